"""Publishing packet messages to the NEW_PACKETS queue (kombu's JSON format; batched on Redis)."""
from __future__ import annotations

import datetime as dt
import struct

from kombu import Connection, Exchange, Queue

from antinex.pipeline import settings
from antinex.pipeline.fastparse import Fallback, frame_to_row
from antinex.pipeline.flatten import packet_to_message, row_to_message
from antinex.pipeline.redis_queue import BatchPusher, is_redis


def packet_queue(exchange: Exchange | None = None) -> Queue:
    exchange = exchange or Exchange(settings.exchange_name(), type="topic", durable=True)
    return Queue(settings.queue_name(), exchange=exchange, routing_key=settings.routing_key(), durable=True)


class PacketPublisher:
    """Publishes messages to NEW_PACKETS; declares the exchange and queue on first use."""

    def __init__(self, broker_url: str | None = None, *, mode: str = "default"):
        self.url = broker_url or settings.broker_url()
        self.mode = mode
        self.exchange = Exchange(settings.exchange_name(), type="topic", durable=True)
        self.queue = packet_queue(self.exchange)
        self.conn: Connection | None = None
        self.producer = None
        self.pusher: BatchPusher | None = None
        self.published = 0

    def __enter__(self) -> "PacketPublisher":
        self.conn = Connection(self.url, transport_options={"max_retries": 3})
        self.producer = self.conn.Producer(serializer="json")
        self.queue(self.conn.default_channel).declare()
        if is_redis(self.url):
            # kombu's envelopes, pushed in batches (pipeline/redis_queue.py)
            self.pusher = BatchPusher(self.url, self.exchange.name, settings.routing_key(), self.queue.name)
        return self

    def __exit__(self, *exc) -> None:
        if self.pusher is not None:
            self.pusher.close()
            self.pusher = None
        if self.conn is not None:
            self.conn.release()
            self.conn = None

    def publish(self, message: dict) -> None:
        if self.pusher is not None:
            self.pusher.push(message)
            self.published += 1
            return
        # the queue was declared on __enter__: declaring again per message costs a round trip
        self.producer.publish(message, exchange=self.exchange, routing_key=settings.routing_key(),
                              serializer="json", retry=True,
                              retry_policy={"max_retries": 5, "interval_start": 0.1, "interval_step": 0.2,
                                            "interval_max": 1})
        self.published += 1

    def publish_frame(self, frame: bytes, when: float | None = None, *, source: str | None = None) -> int:
        """Publish one raw Ethernet frame: the struct fast path in default mode, scapy otherwise."""
        if self.mode == "default":
            try:
                row = frame_to_row(frame)
            except (Fallback, struct.error, ValueError, OSError):
                row = None  # a frame the fast path leaves to scapy
            if row is not None:
                created = dt.datetime.fromtimestamp(when) if when else None
                self.publish(row_to_message(row, source=source or settings.source_host(), created=created, ts=when))
                return 1
        from scapy.layers.l2 import Ether

        pkt = Ether(frame)
        if when:
            pkt.time = when
        return self.publish_packet(pkt, source=source)

    def publish_packet(self, pkt, *, source: str | None = None) -> int:
        """Publish one scapy packet; returns 1 if published, 0 if it has no Ethernet layer."""
        from scapy.layers.l2 import Ether

        if Ether not in pkt:
            return 0
        self.publish(packet_to_message(pkt, mode=self.mode, source=source or settings.source_host()))
        return 1
