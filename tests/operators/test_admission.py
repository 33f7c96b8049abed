"""The admission queue in front of a model: slots, a bounded queue, a wait limit, leavers."""

from __future__ import annotations

import asyncio

import pytest

from operators.admission import ModelBusy, ModelQueue, QueueLimits, wait_turn


async def test_free_slots_admit_at_once_and_the_queue_is_bounded() -> None:
    queue = ModelQueue("m", slots=2, limits=QueueLimits(max_queued=1, max_wait=0))
    a, b = queue.enter(), queue.enter()
    assert a.admitted and b.admitted and queue.running == 2
    waiting = queue.enter()
    assert not waiting.admitted and queue.waiting == 1
    with pytest.raises(ModelBusy) as refused:
        queue.enter()
    assert refused.value.code == "model.busy" and refused.value.retry_after >= 1
    assert "max_queued_requests" in str(refused.value)
    assert queue.stats.refused_full == 1
    turn = asyncio.create_task(waiting.wait())
    await asyncio.sleep(0.01)
    assert not turn.done()
    a.release()
    await asyncio.wait_for(turn, 1)
    assert waiting.admitted and queue.running == 2 and queue.waiting == 0
    a.release()  # twice: nothing more happens
    assert queue.running == 2
    b.release()
    waiting.release()
    assert queue.running == 0
    assert queue.stats.admitted == 3 and sum(queue.stats.wait_buckets) == 3


async def test_a_wait_past_the_limit_is_refused_and_leaves_the_queue() -> None:
    queue = ModelQueue("m", slots=1, limits=QueueLimits(max_queued=4, max_wait=0.05))
    holder = queue.enter()
    late = queue.enter()
    with pytest.raises(ModelBusy, match=r"waited 0\.05 s"):
        await late.wait()
    assert queue.waiting == 0 and queue.stats.refused_timeout == 1
    holder.release()
    assert queue.running == 0


async def test_a_caller_that_leaves_drops_out_of_the_queue() -> None:
    queue = ModelQueue("m", slots=1, limits=QueueLimits(max_queued=4, max_wait=10))
    holder = queue.enter()
    leaver, stayer = queue.enter(), queue.enter()
    gone = asyncio.create_task(leaver.wait())
    turn = asyncio.create_task(stayer.wait())
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert queue.waiting == 1 and queue.stats.dropped == 1
    holder.release()
    await asyncio.wait_for(turn, 1)
    # The slot went past the leaver to the next in line.
    assert stayer.admitted and queue.running == 1
    stayer.release()


async def test_a_slot_handed_to_a_caller_that_just_left_goes_on() -> None:
    queue = ModelQueue("m", slots=1, limits=QueueLimits(max_queued=4, max_wait=0))
    holder = queue.enter()
    first, second = queue.enter(), queue.enter()
    waits = [asyncio.create_task(t.wait()) for t in (first, second)]
    await asyncio.sleep(0.01)
    holder.release()  # first is handed the slot ...
    waits[0].cancel()  # ... and leaves before it runs
    await asyncio.gather(waits[0], return_exceptions=True)
    await asyncio.wait_for(waits[1], 1)
    assert second.admitted and queue.running == 1
    second.release()
    assert queue.running == 0


async def test_wait_turn_ignores_streams_of_models_without_a_queue() -> None:
    await wait_turn(iter([]))  # no admitted(): nothing to wait for


def test_a_model_serves_at_least_one_request() -> None:
    with pytest.raises(ValueError):
        ModelQueue("m", slots=0)
