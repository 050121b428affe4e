"""NEW_PACKETS on Redis in batches, in kombu's own message format.

kombu's Redis transport moves one message per round trip (publish: one
LPUSH; consume: one BRPOP plus two bookkeeping transactions for the ack),
which caps a capture agent and a subscriber at a few hundred packets per
second on a busy machine. Here the same envelopes travel in batches:

- ``BatchPusher`` LPUSHes many envelopes in one command to every queue
  bound to the exchange (kombu's binding table, so fan-out still works);
- ``ReliableBatchPopper`` moves up to N envelopes atomically from the
  queue to a per-consumer processing list, and the caller deletes that
  list once the rows are on disk: an acknowledgement per batch, and a
  consumer killed mid-batch finds its batch again on restart.

Messages stay readable by any kombu consumer and vice versa (tested).
"""
from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid

import redis

_MOVE_MANY = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[i] = v
end
return out
"""
SEP = "\x06\x16"
log = logging.getLogger("antinex.queue")


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def envelope(body: dict, exchange: str, routing_key: str) -> bytes:
    """A kombu Redis-transport message carrying ``body`` as JSON."""
    return json.dumps({
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8", "content-type": "application/json", "headers": {},
        "properties": {"delivery_mode": 2, "delivery_info": {"exchange": exchange, "routing_key": routing_key},
                       "priority": 0, "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    }).encode()


def open_envelope(raw: bytes):
    """The JSON body of a kombu message (raises ValueError on anything else)."""
    try:
        msg = json.loads(raw)
        body = msg["body"]
        if (msg.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        if msg.get("content-type", "application/json") != "application/json":
            raise ValueError(f"content type {msg.get('content-type')!r} is not JSON")
        return json.loads(body)
    except (KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError, base64.binascii.Error) as exc:
        raise ValueError(f"not a kombu JSON message: {exc}") from None


class BatchPusher:
    """Buffers envelopes and pushes them every ``max_delay`` seconds or ``batch`` messages."""

    def __init__(self, url: str, exchange: str, routing_key: str, default_queue: str, *,
                 batch: int = 200, max_delay: float = 0.01, max_buffer: int = 100_000):
        self.r = redis.Redis.from_url(url)
        self.exchange, self.routing_key, self.default_queue = exchange, routing_key, default_queue
        self.batch, self.max_delay, self.max_buffer = batch, max_delay, max_buffer
        self.buffer: list[bytes] = []
        self.lock = threading.Lock()
        self.pushed = 0
        self._targets: list[str] = []
        self._targets_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, daemon=True)
        self._thread.start()

    def targets(self) -> list[str]:
        """Queues bound to the exchange whose pattern matches the routing key (refreshed every 5 s)."""
        if time.monotonic() - self._targets_at > 5:
            found = []
            for entry in self.r.smembers(f"_kombu.binding.{self.exchange}"):
                key, pattern, queue = entry.decode().split(SEP)
                if key == self.routing_key or (pattern and re.match(pattern, self.routing_key)):
                    found.append(queue)
            self._targets = sorted(set(found)) or [self.default_queue]
            self._targets_at = time.monotonic()
        return self._targets

    def push(self, body: dict) -> None:
        env = envelope(body, self.exchange, self.routing_key)
        with self.lock:
            if len(self.buffer) >= self.max_buffer:
                raise redis.ConnectionError(f"{len(self.buffer)} messages buffered: the broker is not taking them")
            self.buffer.append(env)
            full = len(self.buffer) >= self.batch
        if full:
            self.flush()

    def flush(self) -> None:
        """Push what is buffered; on a Redis error the messages stay buffered and the error is raised."""
        with self.lock:
            if not self.buffer:
                return
            pipe = self.r.pipeline(transaction=False)
            for queue in self.targets():
                pipe.lpush(queue, *self.buffer)
            pipe.execute()
            self.pushed += len(self.buffer)
            self.buffer = []

    def _flusher(self) -> None:
        while not self._stop.wait(self.max_delay):
            try:
                self.flush()
            except redis.RedisError as exc:  # kept; the next push or close tries again and raises
                log.warning("NEW_PACKETS push failed, %d messages kept: %s", len(self.buffer), exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.flush()
        self.r.close()


class ReliableBatchPopper:
    """``pop()`` up to N raw envelopes into ``<queue>.processing.<consumer>``; ``ack()`` drops them."""

    def __init__(self, url: str, queue: str, consumer: str):
        self.r = redis.Redis.from_url(url)
        self.queue = queue
        self.processing = f"{queue}.processing.{consumer}"
        self._move = self.r.register_script(_MOVE_MANY)

    def unacked(self) -> list[bytes]:
        """What a previous run of this consumer took but never acknowledged (oldest first)."""
        return list(reversed(self.r.lrange(self.processing, 0, -1)))

    def pop(self, n: int, timeout: float) -> list[bytes]:
        got = self._move(keys=[self.queue, self.processing], args=[n])
        if got:
            return got
        first = self.r.blmove(self.queue, self.processing, timeout, "RIGHT", "LEFT")
        if first is None:
            return []
        return [first] + (self._move(keys=[self.queue, self.processing], args=[n - 1]) if n > 1 else [])

    def ack(self) -> None:
        self.r.delete(self.processing)

    def close(self) -> None:
        self.r.close()
