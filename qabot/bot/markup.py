"""Discord markup out of questions, and whether a message is a question at all.

    clean_question("Who is Iran's foreign minister? <@&123>", names)   # "Who is Iran's foreign minister?"
    clean_question("What did <@456> announce?", names)                 # "What did alice announce?"
    looks_like_question("thanks, that helps!")                          # False

Discord sends what members type as raw markup: `<@id>` user mentions, `<@&id>` role
mentions, `<#id>` channel links, `<:name:id>` custom emoji, `<t:...>` timestamps and
markdown. Left in, they are words the documents never hold, and turn an answerable question
into "The documents don't say.". Mentions inside the question become the names members see;
mentions before or after it (addressing someone, pinging a role) are dropped, as are emoji,
timestamps and markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Resolver = Callable[[str, int], "str | None"]  # (kind: "user" | "role" | "channel", id) -> name

_MENTION = re.compile(r"<(@!?|@&|#)(\d{15,25})>")
_EDGE_MENTIONS = re.compile(r"^(?:\s*<(?:@!?|@&|#)\d{15,25}>[\s,:;]*)+|(?:[\s,:;]*<(?:@!?|@&|#)\d{15,25}>)+\s*$")
_EMOJI = re.compile(r"<a?:\w{1,64}:\d{15,25}>")
_TIMESTAMP = re.compile(r"<t:-?\d{1,13}(?::[tTdDfFsSR])?>")
_SLASH_MENTION = re.compile(r"</([\w -]{1,100}):\d{15,25}>")
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\(<?https?://[^)\s]+>?\)")
_ANGLE_URL = re.compile(r"<(https?://[^>\s]+)>")
_CODE_FENCE = re.compile(r"```(?:[\w+-]{1,20}\n)?")
_LINE_MARKS = re.compile(r"^\s*(?:>>> |> |#{1,3} |-# |[-*] )", re.MULTILINE)
_PAIRED = re.compile(r"(\*\*\*|\*\*|\*|___|__|~~|\|\||`)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([?!.,;:])(?=\s|$)")

_KINDS = {"@": "user", "@!": "user", "@&": "role", "#": "channel"}


def clean_question(text: str, resolve: Resolver | None = None, drop_user: int | None = None) -> str:
    """`text` without Discord markup: mentions as names (or dropped when unknown), no emoji or markdown.

    `drop_user`: a user id removed outright (the bot's own mention, which addresses it).
    """

    def mention(m: re.Match[str]) -> str:
        kind, ident = _KINDS[m.group(1)], int(m.group(2))
        if kind == "user" and ident == drop_user:
            return " "
        name = resolve(kind, ident) if resolve is not None else None
        return f" {name} " if name else " "

    # Mentions before or after the question address people ("@alice who is …?", "… ? @Mods"):
    # they are not part of it. Mentions inside it are words ("what did @alice announce?").
    text = _EDGE_MENTIONS.sub(" ", text)
    text = _MENTION.sub(mention, text)
    text = _EMOJI.sub(" ", text)
    text = _TIMESTAMP.sub(" ", text)
    text = _SLASH_MENTION.sub(r"/\1", text)
    text = _LINK.sub(r"\1", text)
    text = _ANGLE_URL.sub(r"\1", text)
    text = _CODE_FENCE.sub(" ", text)
    text = _LINE_MARKS.sub(" ", text)
    for _ in range(3):  # nested: ***bold italic*** or **__both__**
        text = _PAIRED.sub(r"\2", text)
    text = re.sub(r"\\([*_~|`>#\\-])", r"\1", text)  # markdown escapes: \* -> *
    text = _WS.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)


_QUESTION_WORDS = frozenset(
    [
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "doesn't",
        "don't",
        "didn't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "shouldn't",
        "hasn't",
        "haven't",
        "tell",
        "explain",
        "describe",
        "list",
        "name",
        "give",
        "show",
        "define",
        "compare",
        "summarise",
        "summarize",
        "according",
    ]
)
_LEAD_INS = frozenset({"and", "but", "so", "also", "then", "ok", "okay", "hmm", "please", "pls", "btw", "now", "or"})


def looks_like_question(text: str) -> bool:
    """Whether a message is worth answering when nobody addressed the bot: a question mark,
    or a first word that asks ("who", "how", "is", "explain", "and what ...")."""
    if "?" in text:
        return True
    words = [w.strip(",.:;!\"'()").lower() for w in text.split()]
    words = [w for w in words if w]
    while words and words[0] in _LEAD_INS:
        words = words[1:]
    return len(words) >= 2 and words[0] in _QUESTION_WORDS
