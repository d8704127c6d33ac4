"""Cooldown, the bounded gate for retrievals, and follow-up memory (fast, no Discord)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from qabot.bot.conversation import Conversations
from qabot.bot.limits import Cooldown, EditPacer, Gate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_is_per_user_and_expires() -> None:
    clock = Clock()
    cooldown = Cooldown(5.0, clock=clock)
    assert cooldown.remaining(1) == 0
    cooldown.start(1)
    clock.now += 2
    assert cooldown.remaining(1) == pytest.approx(3.0)
    assert cooldown.remaining(2) == 0
    assert cooldown.first_refusal(1) and not cooldown.first_refusal(1)  # told once per pause
    clock.now += 3
    assert cooldown.remaining(1) == 0 and len(cooldown) == 0  # forgotten: memory stays bounded
    assert cooldown.first_refusal(1)


def test_rate_lets_a_few_questions_through_then_waits_for_the_oldest() -> None:
    clock = Clock()
    cooldown = Cooldown(30.0, rate=3, clock=clock)
    for _ in range(3):
        assert cooldown.remaining(7) == 0
        cooldown.start(7)
        clock.now += 1.0
    assert cooldown.remaining(7) == pytest.approx(27.0)  # the first of the three was 3 s ago
    assert cooldown.first_refusal(7) and not cooldown.first_refusal(7)
    clock.now += 27.0
    assert cooldown.remaining(7) == 0  # the oldest left the window: one more may go
    cooldown.start(7)
    assert cooldown.remaining(7) > 0


def test_zero_cooldown_never_refuses_or_remembers() -> None:
    cooldown = Cooldown(0)
    for user in range(1000):
        cooldown.start(user)
        assert cooldown.remaining(user) == 0
    assert len(cooldown) == 0


def test_cooldown_memory_is_bounded_by_active_users() -> None:
    clock = Clock()
    cooldown = Cooldown(1.0, clock=clock)
    for user in range(10_000):
        cooldown.start(user)
        clock.now += 0.01
    assert len(cooldown) <= 101


def _burst(gate: Gate, clock: Clock, seconds_each: float, n: int = 50) -> tuple[int, list[float], int, int]:
    """n questions at once through `gate`, each holding its slot `seconds_each` on `clock`
    (set by the retrieval itself: no wall-clock timing). Returns (answered, waits told
    to the refused, peak concurrency, heartbeat ticks)."""
    running = 0
    peak = 0
    lock = threading.Lock()

    def blocking_retrieval() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.001)
        with lock:
            running -= 1

    async def main() -> tuple[int, list[float], int]:
        ticks = 0
        stop = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        async def question() -> float | None:
            ticket = gate.admit()
            if ticket is None:
                return gate.expected_wait()
            try:
                async with ticket:
                    await asyncio.to_thread(blocking_retrieval)
                    # It took `seconds_each` on the gate's clock, whatever the order the threads end
                    # in: a shared `max(now, started + seconds_each)` measured 2x or 3x for a question
                    # whose thread the OS woke after a later one's (seen under load).
                    clock.now = ticket.started + seconds_each
            finally:
                ticket.close()
            return None

        beat = asyncio.create_task(heartbeat())
        results = await asyncio.gather(*(question() for _ in range(n)))
        stop.set()
        await beat
        assert gate.admitted == 0 and gate.running == 0
        return sum(r is None for r in results), [r for r in results if r is not None], ticks

    answered, waits, ticks = asyncio.run(main())
    return answered, waits, peak, ticks


def test_a_burst_of_50_fast_answers_is_all_admitted() -> None:
    """The old count-based gate refused 28 of 50 though the queue drained in under a second."""
    clock = Clock()
    gate = Gate(concurrency=2, queue=200, max_wait=30.0, clock=clock)
    answered, waits, peak, ticks = _burst(gate, clock, 0.02)
    assert (answered, waits) == (50, [])
    assert peak <= 2 and ticks > 0  # bounded concurrency; the event loop kept running
    assert gate.answer_seconds == pytest.approx(0.02, rel=0.05)  # measured, not guessed


def test_slow_answers_refuse_by_expected_wait_and_say_how_long() -> None:
    clock = Clock()
    gate = Gate(concurrency=2, queue=200, max_wait=30.0, clock=clock)
    warm, _, _, _ = _burst(gate, clock, 5.0, n=4)  # four answers of 5 s each: measured 5 s
    assert warm == 4 and gate.answer_seconds == pytest.approx(5.0)
    answered, waits, peak, _ = _burst(gate, clock, 5.0)
    # admitted while ceil(ahead / 2) * 5 s <= 30 s: 2 running + 12 waiting
    assert answered == 14 and len(waits) == 36 and peak <= 2
    assert all(30.0 < w <= 40.0 for w in waits)  # what a refused member is told


def test_the_hard_queue_cap_still_bounds_memory() -> None:
    clock = Clock()
    gate = Gate(concurrency=2, queue=3, max_wait=1000.0, clock=clock)
    answered, waits, _, _ = _burst(gate, clock, 0.01)
    assert answered == 5 and len(waits) == 45


def test_tickets_are_returned_even_when_never_used() -> None:
    async def main() -> None:
        gate = Gate(1, 0)
        ticket = gate.admit()
        assert ticket is not None and gate.admit() is None
        ticket.close()
        ticket.close()
        again = gate.admit()
        assert again is not None
        async with again:
            assert gate.running == 1
        assert gate.admitted == 0 and gate.running == 0

    asyncio.run(main())
    with pytest.raises(ValueError):
        Gate(0, 1)
    with pytest.raises(ValueError):
        Gate(1, 1, max_wait=0)


def test_conversations_remember_recent_questions_and_forget_old_ones() -> None:
    memory = Conversations(max_conversations=3, max_questions=2)
    memory.record([10, 11], (), "How many missiles?")
    assert memory.history(10) == ["How many missiles?"] and memory.history(11) == ["How many missiles?"]
    memory.record([12], memory.history(10) or [], "and how many failed?")
    memory.record([13], memory.history(12) or [], "where?")
    assert memory.history(13) == ["and how many failed?", "where?"]  # the last two only
    assert memory.history(11) is None and len(memory) == 3  # the least recently used is forgotten
    assert memory.history(None) is None and 99 not in memory


def test_edit_pacer_allows_one_edit_per_interval() -> None:
    clock = Clock()
    pacer = EditPacer(1.0, clock=clock)
    assert pacer.due()  # the first edit at once
    clock.now += 0.4
    assert not pacer.due()
    clock.now += 0.5
    assert not pacer.due()  # 0.9 s after the edit: still too soon
    clock.now += 0.1
    assert pacer.due()
    assert not pacer.due()  # a refusal does not move the window; an edit does
    edits = 0
    for _ in range(40):  # 10 s of pieces every 0.25 s: one edit per second
        clock.now += 0.25
        edits += pacer.due()
    assert edits == 10
