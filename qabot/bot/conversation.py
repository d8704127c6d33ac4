"""Follow-up tracking: which earlier questions a new message continues.

Every answer the bot sends is remembered under its message ids, and under the thread
it lives in, as the list of questions that led to it. A reply to that message, or a
message in that thread, then asks with those questions as history:

    conversations.record([answer_message.id], history=[], question="How many missiles?")
    conversations.history(reply.reference.message_id)   # ["How many missiles?"]

Bounded: the least recently used conversations are forgotten beyond `max_conversations`,
and only the last `max_questions` questions of each are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence


class Conversations:
    def __init__(self, max_conversations: int = 2000, max_questions: int = 4) -> None:
        if max_conversations < 1 or max_questions < 1:
            raise ValueError("limits must be positive")
        self.max_conversations = max_conversations
        self.max_questions = max_questions
        self._items: OrderedDict[int, tuple[str, ...]] = OrderedDict()

    def history(self, key: int | None) -> list[str] | None:
        """Questions of the conversation `key` (a message or thread id), or None if unknown."""
        if key is None:
            return None
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return list(found)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def record(self, keys: Iterable[int], history: Sequence[str], question: str) -> list[str]:
        """Remember that `question` (after `history`) was answered by the messages `keys`."""
        questions = [q for q in (*history, question) if q][-self.max_questions :]
        value = tuple(questions)
        for key in keys:
            self._items[key] = value
            self._items.move_to_end(key)
        while len(self._items) > self.max_conversations:
            self._items.popitem(last=False)
        return questions

    def __len__(self) -> int:
        return len(self._items)
