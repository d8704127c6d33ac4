"""Cooldown, the bounded gate for retrievals, and follow-up memory (fast, no Discord)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from qabot.bot.conversation import Conversations
from qabot.bot.limits import Cooldown, Gate


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


def test_a_burst_of_50_is_bounded_and_never_blocks_the_event_loop() -> None:
    """2 retrievals at a time, 20 waiting, 28 refused at once; the loop keeps ticking."""
    running = 0
    peak = 0
    lock = threading.Lock()

    loop_ran: list[bool] = []
    ticks = 0

    def blocking_retrieval() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        # Block until the event loop has ticked twice meanwhile (waited on, not timed: a
        # loaded machine only makes it slower; the limit only stops a hung test).
        start, give_up = ticks, time.monotonic() + 120
        while ticks < start + 2 and time.monotonic() < give_up:
            time.sleep(0.001)
        loop_ran.append(ticks >= start + 2)
        with lock:
            running -= 1

    async def main() -> tuple[int, int, int]:
        nonlocal ticks
        gate = Gate(concurrency=2, queue=20)
        stop = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        async def question() -> bool:
            ticket = gate.admit()
            if ticket is None:
                return False
            try:
                async with ticket:
                    await asyncio.to_thread(blocking_retrieval)
            finally:
                ticket.close()
            return True

        beat = asyncio.create_task(heartbeat())
        results = await asyncio.gather(*(question() for _ in range(50)))
        stop.set()
        await beat
        assert gate.admitted == 0 and gate.running == 0
        return sum(results), len(results) - sum(results), ticks

    answered, refused, ticks = asyncio.run(main())
    assert (answered, refused) == (22, 28)
    assert peak <= 2
    assert len(loop_ran) == 22 and all(loop_ran)  # the heartbeat ticked during every blocking retrieval
    assert ticks >= 2


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


def test_conversations_remember_recent_questions_and_forget_old_ones() -> None:
    memory = Conversations(max_conversations=3, max_questions=2)
    memory.record([10, 11], (), "How many missiles?")
    assert memory.history(10) == ["How many missiles?"] and memory.history(11) == ["How many missiles?"]
    memory.record([12], memory.history(10) or [], "and how many failed?")
    memory.record([13], memory.history(12) or [], "where?")
    assert memory.history(13) == ["and how many failed?", "where?"]  # the last two only
    assert memory.history(11) is None and len(memory) == 3  # the least recently used is forgotten
    assert memory.history(None) is None and 99 not in memory
