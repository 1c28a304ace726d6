"""The thread→loop idioms: closed-loop-safe hand-off, iterate-in-thread, real-time pacing."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from voicecli.concurrency import Pacer, feeder, iterate_in_thread, post


def test_post_and_feeder_deliver_and_tolerate_a_closed_loop():
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue[int] = asyncio.Queue()
    put = feeder(loop, queue)
    t = threading.Thread(target=lambda: (put(1), put(2)))
    t.start()
    t.join()
    loop.run_until_complete(asyncio.sleep(0))
    assert [queue.get_nowait(), queue.get_nowait()] == [1, 2]
    loop.close()
    assert post(loop, print, "never") is False
    assert put(3) is False


def _run(coro):
    return asyncio.run(coro)


def test_items_arrive_in_order_and_the_generator_runs_in_the_worker():
    main = threading.get_ident()

    def make(stop):
        for i in range(5):
            yield i, threading.get_ident() != main

    async def consume():
        with ThreadPoolExecutor(1) as pool:
            return [item async for item in iterate_in_thread(pool, make)]

    assert _run(consume()) == [(i, True) for i in range(5)]


def test_an_error_is_raised_on_the_loop_after_the_items_before_it():
    def make(stop):
        yield "a"
        raise ValueError("boom")

    async def consume():
        got = []
        with ThreadPoolExecutor(1) as pool:
            with pytest.raises(ValueError, match="boom"):
                async for item in iterate_in_thread(pool, make):
                    got.append(item)
        return got

    assert _run(consume()) == ["a"]


def test_closing_stops_the_worker_and_closes_the_generator():
    closed = threading.Event()
    produced: list[int] = []

    def make(stop):
        try:
            i = 0
            while not stop.wait(0.001):
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.set()

    async def consume():
        with ThreadPoolExecutor(1) as pool:
            items = iterate_in_thread(pool, make)
            first = await items.__anext__()
            await items.aclose()
            with pytest.raises(StopAsyncIteration):
                await items.__anext__()
            assert items.stop.is_set()
            return first

    assert _run(consume()) == 0
    assert closed.wait(2)


def test_work_starts_before_the_first_await():
    started = threading.Event()

    def make(stop):
        started.set()
        yield 1

    async def consume():
        with ThreadPoolExecutor(1) as pool:
            items = iterate_in_thread(pool, make)
            assert started.wait(2)  # no await yet
            return [i async for i in items]

    assert _run(consume()) == [1]


def test_a_shut_down_executor_cancels_the_consumer():
    pool = ThreadPoolExecutor(1)
    pool.shutdown()

    async def consume():
        items = iterate_in_thread(pool, lambda stop: iter([1]))
        with pytest.raises(asyncio.CancelledError):
            await items.__anext__()
        with pytest.raises(StopAsyncIteration):
            await items.__anext__()

    _run(consume())


def test_a_worker_stopped_while_queued_asks_the_generator_for_nothing():
    pulled: list[int] = []

    def make(stop):
        pulled.append(1)  # a generator's body runs at its first item
        yield 1

    async def consume():
        gate = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(gate.wait, 5)  # the worker is busy: the work below is queued
            items = iterate_in_thread(pool, make)
            items.cancel()
            gate.set()
        with pytest.raises(StopAsyncIteration):
            await items.__anext__()

    _run(consume())
    assert pulled == []


def test_a_cancelled_consumer_stops_the_worker():
    def make(stop):
        while not stop.wait(0.001):
            pass
        yield "never sent"

    async def consume():
        with ThreadPoolExecutor(1) as pool:
            items = iterate_in_thread(pool, make)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(items.__anext__(), 0.05)
            assert items.stop.is_set()

    _run(consume())


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_pacer_sleeps_until_each_sample_is_due_and_never_for_late_ones():
    clock = FakeClock()
    pacer = Pacer(16000, clock=clock, sleep=clock.sleep)
    assert pacer.wait(512) == pytest.approx(100.032)
    assert clock.sleeps == [0.032]
    clock.now += 0.1  # the producer was late: the next two frames go out at once
    assert pacer.wait(1024) == pytest.approx(100.064) and pacer.wait(1536) == pytest.approx(100.096)
    assert clock.sleeps == [0.032]
    assert pacer.wait(16000 * 2) == pytest.approx(102.0) and clock.sleeps[-1] == pytest.approx(102.0 - 100.132)


def test_pacer_speed_and_validation():
    clock = FakeClock()
    pacer = Pacer(22050, speed=8.0, clock=clock, sleep=clock.sleep)
    assert pacer.due(22050 * 8) == pytest.approx(101.0)
    with pytest.raises(ValueError):
        Pacer(0)
