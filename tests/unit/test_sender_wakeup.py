"""When a new or full batch wakes the idle sender, and when it need not."""

from __future__ import annotations

import asyncio

from aioproducer._accumulator import RecordAccumulator
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._sender import Sender


def _sender() -> Sender:
    config = ProducerConfig(bootstrap_servers="127.0.0.1:9", enable_idempotence=False)
    cluster = Cluster(config)  # no I/O before bootstrap()
    cluster.metadata.topics["t"] = TopicInfo(leaders=[1, 2, -1], available=[0, 1])
    return Sender(config, cluster, RecordAccumulator(config), None)


async def test_a_batch_for_a_broker_with_a_full_window_lets_the_sender_sleep() -> None:
    sender = _sender()
    idle = asyncio.create_task(sender._idle(60_000))
    await asyncio.sleep(0)
    sender._window_full.add(1)  # what the last pass found: broker 1 has no request slot

    sender.wakeup_for(TopicPartition("t", 0))  # led by 1: its next response wakes the sender
    await asyncio.sleep(0)
    assert not idle.done()
    sender.cluster.metadata.topics.clear()  # the repeat call does not look the leader up again
    sender.wakeup_for(TopicPartition("t", 0))
    await asyncio.sleep(0)
    assert not idle.done()
    sender.cluster.metadata.topics["t"] = TopicInfo(leaders=[1, 2, -1], available=[0, 1])

    sender.wakeup_for(TopicPartition("t", 2))  # no leader: the sender must look
    await asyncio.sleep(0)
    assert idle.done()

    idle = asyncio.create_task(sender._idle(60_000))
    await asyncio.sleep(0)
    sender.wakeup_for(TopicPartition("t", 1))  # led by 2, which has room
    await asyncio.sleep(0)
    assert idle.done()


async def test_each_pass_forgets_which_partitions_were_quiet() -> None:
    sender = _sender()
    idle = asyncio.create_task(sender._idle(60_000))
    await asyncio.sleep(0)
    sender._window_full.add(1)
    sender.wakeup_for(TopicPartition("t", 0))
    assert not idle.done()
    sender._run_once()  # a pass: broker 1 is no longer known to be full
    sender.wakeup_for(TopicPartition("t", 0))
    await asyncio.sleep(0)
    assert idle.done()
    await sender.cluster.close()  # the metadata refresh the pass started


async def test_wakeup_for_is_a_no_op_while_the_sender_works() -> None:
    sender = _sender()
    sender.wakeup_for(TopicPartition("t", 1))  # not idle: nothing to release, nothing raised
    sender.wakeup()
