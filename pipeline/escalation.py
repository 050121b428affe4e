"""Source escalation: a source that just sent several attack requests is an attacker for a while.

An attack tool's session is all probes, but not every probe looks like
one: sqlmap's and wfuzz's single SQL words, a scanner's requests for
ordinary pages between its payloads, a command-injection crawler fetching
the forms it will attack. Judged one by one, those requests are content
the application sees from its own users every day. Judged with what their
source did a moment before, they are not: a benign client almost never
sends several attack-looking requests within a minute (the lab's benign
clients: see docs/verdicts.md), a tool does so all the time.

:class:`SourceEscalation` keeps, per source address, the times of its
recent attack verdicts (the request detector's, the injection
signatures' and the timing and window rules'); once a source has ``after`` of them within ``window``
seconds, its next requests that were judged benign become
``source-escalation`` alerts, until ``window`` seconds pass without a new
attack verdict. Escalated requests do not count as attack verdicts
themselves, so the escalation ends on its own when the attacks stop
(fail2ban's idea, applied to alerts rather than bans). Causal: a request
is judged with what came before it, never with what came after.
"""
from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from dataclasses import dataclass

MAX_SOURCES = 65_536  # sources remembered; the least recently active are forgotten beyond
MAX_REMEMBERED = 256  # attack verdicts remembered per source (enough to count past any sensible ``after``)


@dataclass(frozen=True)
class Escalation:
    """Why a request was escalated: its source's recent attack verdicts."""

    count: int  # attack verdicts from the source within the window
    last_age: float  # seconds since the latest of them
    names: tuple[str, ...]  # their verdict names, most frequent first

    def reason(self, src: str | None, window: float) -> str:
        what = ", ".join(self.names)
        count = f"at least {self.count}" if self.count >= MAX_REMEMBERED else str(self.count)
        return (f"source escalation: {src} sent {count} attack requests ({what}) in the last "
                f"{window:g} s, the latest {self.last_age:.1f} s before this one")


class SourceEscalation:
    """Per-source memory of recent attack verdicts (see the module docstring).

    ``after`` attack verdicts within ``window`` seconds escalate a source;
    ``after`` of 0 turns escalation off (:meth:`observe` then never escalates).
    """

    def __init__(self, after: int = 3, window: float = 60.0, max_sources: int = MAX_SOURCES):
        if after < 0:
            raise ValueError(f"after: {after} is negative (0 turns escalation off)")
        if window <= 0:
            raise ValueError(f"window: {window} is not a positive number of seconds")
        self.after, self.window, self.max_sources = after, float(window), max_sources
        self._seen: OrderedDict[str, deque] = OrderedDict()  # source -> (ts, name) of its attack verdicts

    @classmethod
    def from_settings(cls) -> "SourceEscalation | None":
        """The one ``ANTINEX_ESCALATE_AFTER``/``ANTINEX_ESCALATE_WINDOW`` configure; None when turned off."""
        from antinex.pipeline.settings import escalation

        after, window = escalation()
        return cls(after, window) if after else None

    @property
    def enabled(self) -> bool:
        return self.after > 0

    def _recent(self, src: str, ts: float) -> deque | None:
        hits = self._seen.get(src)
        if hits is None:
            return None
        while hits and hits[0][0] < ts - self.window:
            hits.popleft()
        if not hits:
            del self._seen[src]
            return None
        return hits

    def note(self, verdicts) -> None:
        """Count the timing and window rules' attack verdicts (a flow's or a source's) towards their sources'
        escalation, as the request verdicts count (:meth:`observe`)."""
        for v in verdicts:
            if v.attack and v.kind != "request" and v.src_ip:
                self.observe(v.src_ip, v.ts, True, v.name)

    def observe(self, src: str | None, ts: float, attack: bool, name: str = "") -> Escalation | None:
        """Record one judged request of ``src`` at ``ts`` (in time order per source); for a request judged
        benign, the :class:`Escalation` when its source is escalated, else None."""
        if not self.enabled or src is None:
            return None
        hits = self._recent(src, ts)
        if attack:
            if hits is None:
                hits = self._seen[src] = deque(maxlen=MAX_REMEMBERED)
            if len(hits) == MAX_REMEMBERED:
                hits.popleft()
            # in time order, whatever order the verdicts arrive in (a rule's verdict can come late)
            bisect.insort(hits, (ts, name))
            self._seen.move_to_end(src)
            while len(self._seen) > self.max_sources:
                self._seen.popitem(last=False)
            return None
        # only verdicts reached before this request count (batches may be judged out of time order)
        before = [h for h in hits if h[0] <= ts] if hits is not None else []
        if len(before) < self.after:
            return None
        counts: dict[str, int] = {}
        for _, n in before:
            counts[n] = counts.get(n, 0) + 1
        names = tuple(sorted(counts, key=lambda n: (-counts[n], n)))
        return Escalation(len(before), max(0.0, ts - before[-1][0]), names)


def escalate_flags(flags, groups, times, after: int = 3, window: float = 60.0, events=()):
    """Per row, 1 where ``flags`` is 1 or the row's group (a source) was escalated by earlier attack verdicts.

    The lab's view of :class:`SourceEscalation` (``antinex-lab report``): ``groups`` names each row's
    source, ``times`` its time; rows are taken in time order per group, as the analyzer judges them, each
    flagged row an attack verdict at its time. ``events``: further attack verdicts, (group, time) pairs (the
    rules', which fire when a connection has been slow long enough, not when its request came).
    """
    import numpy as np

    flags = np.asarray(flags, dtype=int)
    out = flags.copy()
    if not after:
        return out
    esc = SourceEscalation(after, window, max_sources=1 << 30)
    times = np.asarray(times, dtype=float)
    # rows and events in one timeline; at equal times an event counts before the row it may escalate
    items = [(float(t), 0, -1, str(g)) for g, t in events] + \
        [(float(times[i]), 1, i, str(g)) for i, g in enumerate(groups)]
    for ts, _, i, group in sorted(items, key=lambda x: (x[0], x[1], x[2])):
        if i < 0:
            esc.observe(group, ts, True, "rule")
        elif esc.observe(group, ts, bool(flags[i]), "attack") is not None:
            out[i] = 1
    return out
