"""Work for a question done beside it: a small pool of daemon threads that live as long as the process.

    later = submit(reader.lexical.search, query, k)   # runs in another thread
    ...                                                # the caller embeds the question meanwhile
    ids, scores = later()                              # waits; raises what the work raised

numpy, FAISS and onnxruntime release the interpreter lock while they compute, so BM25 and one
embedding overlap the question's own embedding and dense search. The threads are made once
(starting one per question cost ~0.4 ms); the caller must not be one of them (nothing here waits
for other work).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import queue

T = TypeVar("T")
WORKERS = 2  # two questions asked at once (the bot) each get theirs without waiting

_queue: queue.SimpleQueue[_Task] | None = None
_made = threading.Lock()


class _Task:
    __slots__ = ("args", "done", "error", "fn", "value")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.done = threading.Lock()
        self.done.acquire()  # released when the work is over
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            self.error = exc
        finally:
            self.done.release()

    def result(self) -> Any:
        with self.done:
            pass
        if self.error is not None:
            raise self.error
        return self.value


def _work(tasks: queue.SimpleQueue[_Task]) -> None:
    while True:
        tasks.get().run()


def _tasks() -> queue.SimpleQueue[_Task]:
    global _queue
    if _queue is None:
        with _made:
            if _queue is None:
                import queue

                tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
                for n in range(WORKERS):
                    threading.Thread(target=_work, args=(tasks,), name=f"qabot-background-{n}", daemon=True).start()
                _queue = tasks
    return _queue


def submit(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Run fn(*args) in a background thread; the returned function waits for its value."""
    task = _Task(fn, args)
    _tasks().put(task)
    return task.result  # type: ignore[return-value]
