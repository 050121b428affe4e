"""NEW_PACKETS in batches on Redis: kombu's format both ways, fan-out, and
nothing lost when a subscriber dies mid-batch."""
from __future__ import annotations

import pandas as pd
import redis
from kombu import Connection, Exchange, Queue
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from antinex.pipeline.flatten import packet_to_message
from antinex.pipeline.publisher import PacketPublisher, packet_queue
from antinex.pipeline.redis_queue import ReliableBatchPopper, envelope
from antinex.pipeline.subscriber import Subscriber


def _messages(n: int) -> list[dict]:
    return [packet_to_message(Ether() / IP(src="10.9.0.2", dst="10.9.0.1") / TCP(sport=40000 + i, dport=80))
            for i in range(n)]


def test_batched_messages_are_read_by_a_plain_kombu_consumer(redis_db):
    url = redis_db("pipeline")
    with PacketPublisher(url) as pub:
        assert pub.pusher is not None  # the batched path
        for m in _messages(50):
            pub.publish(m)
    got = []
    with Connection(url) as conn:
        with conn.Consumer([packet_queue()], callbacks=[lambda b, m: (got.append(b), m.ack())], accept=["json"]):
            while len(got) < 50:
                conn.drain_events(timeout=5)
    assert [g["data"]["tcp"]["sport"] for g in got] == list(range(40000, 40050))  # in order


def test_kombu_published_messages_reach_the_batch_subscriber(redis_db, tmp_path):
    url = redis_db("pipeline")
    exchange = Exchange("NEW_PACKETS", type="topic", durable=True)
    with Connection(url) as conn:
        producer = conn.Producer(serializer="json")
        for m in _messages(30):
            producer.publish(m, exchange=exchange, routing_key="NEW_PACKETS", declare=[packet_queue(exchange)])
        producer.publish("not a packet", exchange=exchange, routing_key="NEW_PACKETS")
    sub = Subscriber(url, tmp_path, "k")
    sub.run(idle_timeout=1)
    assert sub.received == 30 and sub.bad == 1
    rows = pd.read_csv(next(tmp_path.glob("k-*.csv")))
    assert list(rows["tcp_sport"]) == list(range(40000, 40030))


def test_every_bound_queue_gets_a_copy(redis_db):
    url = redis_db("pipeline")
    exchange = Exchange("NEW_PACKETS", type="topic", durable=True)
    with Connection(url) as conn:
        Queue("NEW_PACKETS_AUDIT", exchange=exchange, routing_key="NEW_PACKETS")(conn.default_channel).declare()
    with PacketPublisher(url) as pub:
        for m in _messages(7):
            pub.publish(m)
    r = redis.Redis.from_url(url)
    assert r.llen("NEW_PACKETS") == 7 and r.llen("NEW_PACKETS_AUDIT") == 7


def test_a_batch_taken_but_not_acknowledged_is_written_on_restart(redis_db, tmp_path):
    url = redis_db("pipeline")
    with PacketPublisher(url) as pub:
        for m in _messages(20):
            pub.publish(m)
    # a subscriber named "crash" took 8 messages and died before writing them
    popper = ReliableBatchPopper(url, "NEW_PACKETS", "crash")
    assert len(popper.pop(8, timeout=1)) == 8
    r = redis.Redis.from_url(url)
    assert r.llen("NEW_PACKETS") == 12 and r.llen("NEW_PACKETS.processing.crash") == 8
    sub = Subscriber(url, tmp_path, "crash")
    sub.run(idle_timeout=1)
    assert sub.received == 20
    rows = pd.read_csv(next(tmp_path.glob("crash-*.csv")))
    assert sorted(rows["tcp_sport"]) == list(range(40000, 40020))
    assert r.llen("NEW_PACKETS.processing.crash") == 0


def test_garbage_in_the_queue_is_counted_not_fatal(redis_db, tmp_path):
    url = redis_db("pipeline")
    r = redis.Redis.from_url(url)
    r.lpush("NEW_PACKETS", b"\xff\x00garbage", envelope({"no": "data"}, "NEW_PACKETS", "NEW_PACKETS"),
            envelope(_messages(1)[0], "NEW_PACKETS", "NEW_PACKETS"))
    sub = Subscriber(url, tmp_path, "g")
    sub.run(idle_timeout=1)
    assert sub.received == 1 and sub.bad == 2
