"""Abuse and load limits: a per-user cooldown and a bounded gate for retrievals.

    cooldown = Cooldown(5.0)
    if (wait := cooldown.remaining(user_id)) > 0: refuse(f"try again in {wait:.0f} s")
    ticket = gate.admit()          # None when the expected wait is too long
    if ticket is None: refuse(f"busy: try again in {gate.expected_wait():.0f} s")
    cooldown.start(user_id)
    async with ticket:             # at most `concurrency` inside at once, the rest wait in line
        answer = await asyncio.to_thread(engine.ask, question)

Both structures are bounded: the cooldown forgets users whose pause is over, and the gate
admits by expected wait (measured answer time x questions ahead) and never holds more than
`concurrency + queue` questions, so a burst of questions costs a
fixed amount of memory and threads and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from types import TracebackType


def _monotonic() -> float:
    # Looked up at call time, so test clocks that patch time.monotonic apply.
    return time.monotonic()


class Cooldown:
    """At most `rate` questions per `seconds` per key (a user id), over a sliding window.

    rate=1 is a plain cooldown; a larger rate lets a person ask a few questions in a row
    (a follow-up right after an answer) while still stopping a flood.
    """

    def __init__(self, seconds: float, rate: int = 1, clock: Callable[[], float] = _monotonic) -> None:
        self.seconds = max(0.0, float(seconds))
        self.rate = max(1, int(rate))
        self._clock = clock
        self._asked: OrderedDict[Hashable, deque[float]] = OrderedDict()  # least recently active first
        self._warned: set[Hashable] = set()

    def _forget_expired(self, now: float) -> None:
        while self._asked:
            key, times = next(iter(self._asked.items()))
            if now - times[-1] < self.seconds:
                break
            self._asked.popitem(last=False)
            self._warned.discard(key)

    def remaining(self, key: Hashable) -> float:
        """Seconds until `key` may ask again (0 when it may ask now)."""
        if self.seconds <= 0:
            return 0.0
        now = self._clock()
        self._forget_expired(now)
        times = self._asked.get(key)
        if times is None:
            return 0.0
        while times and now - times[0] >= self.seconds:
            times.popleft()
        if len(times) < self.rate:
            self._warned.discard(key)
            return 0.0
        return max(0.0, self.seconds - (now - times[0]))

    def start(self, key: Hashable) -> None:
        """`key` just asked."""
        if self.seconds <= 0:
            return
        now = self._clock()
        times = self._asked.setdefault(key, deque(maxlen=self.rate))
        times.append(now)
        self._asked.move_to_end(key)
        self._forget_expired(now)

    def first_refusal(self, key: Hashable) -> bool:
        """True once per pause: whether to tell `key` it is too fast (later refusals stay quiet)."""
        if key in self._warned:
            return False
        self._warned.add(key)
        return True

    def __len__(self) -> int:
        return len(self._asked)


class Gate:
    """Up to `concurrency` questions answered at once; newcomers admitted by expected wait.

    The expected wait of a newcomer is the measured answer time (a moving average of how
    long a question held its slot) times the rounds of questions ahead of it. A question
    is refused when that exceeds `max_wait` seconds, or when `queue` are already waiting
    (a hard cap that keeps memory bounded); `expected_wait()` tells a refused user how long.
    """

    def __init__(
        self,
        concurrency: int,
        queue: int,
        max_wait: float = 30.0,
        first_estimate: float = 1.0,
        clock: Callable[[], float] = _monotonic,
    ) -> None:
        if concurrency < 1 or queue < 0 or max_wait <= 0:
            raise ValueError("concurrency must be >= 1, queue >= 0 and max_wait > 0")
        self.concurrency = concurrency
        self.capacity = concurrency + queue
        self.max_wait = float(max_wait)
        self.answer_seconds = float(first_estimate)  # moving average of measured answer times
        self.measured = 0
        self._clock = clock
        self.admitted = 0  # tickets handed out and not yet closed
        self.running = 0  # tickets inside the gate
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or (self._loop is not loop and self.running == 0):
            self._semaphore = asyncio.Semaphore(self.concurrency)  # one per event loop
            self._loop = loop
        return self._semaphore

    def expected_wait(self) -> float:
        """Seconds a question arriving now would wait for a slot (0 when one is free)."""
        ahead = self.admitted - self.concurrency + 1
        if ahead <= 0:
            return 0.0
        return math.ceil(ahead / self.concurrency) * self.answer_seconds

    def admit(self) -> Ticket | None:
        """A place in line, or None when the wait would be too long. Close the ticket when done."""
        if self.admitted >= self.capacity or self.expected_wait() > self.max_wait:
            return None
        self.admitted += 1
        return Ticket(self)

    def measure(self, seconds: float) -> None:
        """One question held its slot `seconds`: update the moving average."""
        seconds = max(0.0, float(seconds))
        self.measured += 1
        weight = max(0.2, 1.0 / self.measured)  # the mean of the first five, then a moving average
        self.answer_seconds += weight * (seconds - self.answer_seconds)


class Ticket:
    """One admitted question. `async with ticket:` waits for a free slot and times the answer."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._inside = False
        self._closed = False
        self._entered = 0.0

    @property
    def started(self) -> float:
        """When the ticket got its slot (on the gate's clock)."""
        return self._entered

    async def __aenter__(self) -> Ticket:
        if self._closed:
            raise RuntimeError("ticket already closed")
        await self._gate._sem().acquire()
        self._inside = True
        self._gate.running += 1
        self._entered = self._gate._clock()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._inside and exc_type is None:
            self._gate.measure(self._gate._clock() - self._entered)
        self.close()

    def close(self) -> None:
        """Give the place back (idempotent; also for tickets that never went inside)."""
        if self._closed:
            return
        self._closed = True
        if self._inside:
            self._inside = False
            self._gate.running -= 1
            self._gate._sem().release()
        self._gate.admitted -= 1


class EditPacer:
    """At most one message edit per `interval` seconds (Discord's edit rate for a streamed answer).

    pacer = EditPacer(1.0)
    if pacer.due(): await message.edit(...)   # due() also counts the edit as made
    """

    def __init__(self, interval: float, clock: Callable[[], float] = _monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
