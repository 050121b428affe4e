"""Source escalation: a source's next requests become alerts after several attack verdicts, for a while."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scapy.utils import wrpcap

from antinex.pipeline.analyzer import Analyzer
from antinex.pipeline.escalation import SourceEscalation, escalate_flags
from antinex.pipeline.eve import AlertWriter, EveFile
from antinex.pipeline.injection import InjectionSignatures
from antinex.pipeline.verdicts import SIGNATURES, Verdict
from antinex.utils.config import SettingError

from .test_injection import BENIGN, conversation
from .test_live_verdicts import quick_profile
from .test_pcap_cli import assert_clear_error, pcap

SQLI = b"GET /items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--%20 HTTP/1.1\r\nHost: app\r\n\r\n"
PAGE = b"GET /items?id=7 HTTP/1.1\r\nHost: app\r\n\r\n"


def test_three_attacks_in_the_window_escalate_the_next_benign_request():
    esc = SourceEscalation(after=3, window=60)
    assert [esc.observe("a", t, True, "sql-injection") for t in (0, 1, 2)] == [None, None, None]
    hit = esc.observe("a", 3, False)
    assert hit is not None and hit.count == 3 and hit.names == ("sql-injection",)
    assert hit.last_age == pytest.approx(1.0)
    assert "a sent 3 attack requests (sql-injection) in the last 60 s" in hit.reason("a", 60)
    assert esc.observe("b", 3, False) is None  # another source is not escalated by a's attacks


def test_two_attacks_do_not_escalate_and_old_ones_expire():
    esc = SourceEscalation(after=3, window=10)
    for t in (0, 1):
        esc.observe("a", t, True, "request-attack")
    assert esc.observe("a", 2, False) is None
    esc.observe("a", 3, True, "xss")
    assert esc.observe("a", 4, False) is not None
    # 10 s after the first attack it no longer counts: two left
    assert esc.observe("a", 10.5, False) is None
    assert esc.observe("a", 14, False) is None  # all expired: the source is forgotten
    assert "a" not in esc._seen


def test_escalated_requests_do_not_keep_the_escalation_alive():
    """Only attack verdicts count: a tool that stops attacking stops being escalated a window later."""
    esc = SourceEscalation(after=2, window=5)
    esc.observe("a", 0, True)
    esc.observe("a", 1, True)
    assert all(esc.observe("a", t, False) is not None for t in (2, 3, 4, 5))
    assert esc.observe("a", 5.5, False) is None


def test_only_verdicts_before_the_request_count():
    esc = SourceEscalation(after=2, window=60)
    esc.observe("a", 10, True)
    esc.observe("a", 20, True)  # reached after the request below
    assert esc.observe("a", 15, False) is None
    assert esc.observe("a", 21, False).count == 2


def test_the_rules_verdicts_count_when_they_fired():
    """A slow connection is flagged by a rule seconds after its request came: it counts from then on."""
    out = escalate_flags([0, 0, 0, 0, 0], ["s"] * 5, [0, 1, 2, 10, 11], after=3,
                         events=[("s", 5.0), ("s", 6.0), ("s", 7.0), ("other", 1.0)])
    assert out.tolist() == [0, 0, 0, 1, 1]
    esc = SourceEscalation(after=3, window=60)
    rules = [Verdict(kind="flow", name="slow-read", score=1.0, model="p", reason="r", ts=t, src_ip="10.7.0.9")
             for t in (5.0, 6.0, 7.0)]
    rules.append(Verdict(kind="flow", name="benign", score=0.0, model="p", reason="r", ts=7.5, src_ip="10.7.0.9"))
    esc.note(rules)
    assert esc.observe("10.7.0.9", 6.5, False) is None  # two had fired by then
    hit = esc.observe("10.7.0.9", 8.0, False)
    assert hit.count == 3 and hit.names == ("slow-read",)


def test_verdicts_arriving_late_are_kept_in_time_order():
    esc = SourceEscalation(after=2, window=10)
    esc.observe("a", 20, True)
    esc.observe("a", 5, True)  # arrives late
    assert [t for t, _ in esc._seen["a"]] == [5, 20]
    assert esc.observe("a", 21, False) is None  # 5 is out of the window, 20 alone is not enough


def test_off_and_bad_values():
    esc = SourceEscalation(after=0)
    assert not esc.enabled
    for t in range(5):
        esc.observe("a", t, True)
    assert esc.observe("a", 6, False) is None
    with pytest.raises(ValueError, match="after: -1 is negative"):
        SourceEscalation(after=-1)
    with pytest.raises(ValueError, match="window: 0 is not a positive"):
        SourceEscalation(window=0)


def test_the_settings(monkeypatch):
    assert (SourceEscalation.from_settings().after, SourceEscalation.from_settings().window) == (3, 60.0)
    monkeypatch.setenv("ANTINEX_ESCALATE_AFTER", "0")
    assert SourceEscalation.from_settings() is None
    monkeypatch.setenv("ANTINEX_ESCALATE_AFTER", "-2")
    with pytest.raises(SettingError, match="ANTINEX_ESCALATE_AFTER"):
        SourceEscalation.from_settings()
    monkeypatch.setenv("ANTINEX_ESCALATE_AFTER", "5")
    monkeypatch.setenv("ANTINEX_ESCALATE_WINDOW", "20")
    esc = SourceEscalation.from_settings()
    assert (esc.after, esc.window) == (5, 20.0)


def test_the_lab_view_is_causal_and_per_source():
    flags = [1, 1, 1, 0, 0, 0, 0, 0]
    groups = ["tool"] * 5 + ["user"] * 3
    times = [0, 1, 2, 3, 100, 0.5, 1.5, 2.5]
    out = escalate_flags(flags, groups, times, after=3, window=60)
    # the tool's 4th request is escalated, its 5th is 98 s after the last attack; the user is not touched
    assert out.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    # rows out of time order are judged in time order: the early benign row is not escalated by later attacks
    out = escalate_flags([0, 1, 1, 1], ["s"] * 4, [0, 5, 6, 7], after=3)
    assert out.tolist() == [0, 1, 1, 1]
    assert escalate_flags(np.array([1, 1, 1, 0]), ["s"] * 4, [0, 1, 2, 3], after=0).tolist() == [1, 1, 1, 0]


def _requests(raws_by_client: dict[str, list[bytes]]):
    convs = []
    for c, (client, raws) in enumerate(raws_by_client.items()):
        convs += [conversation(41000 + 100 * c + i, raw, 100.0 + i, client=client) for i, raw in enumerate(raws)]
    analyzer = Analyzer(quick_profile())
    for ts, row in sorted((p for c in convs for p in c.rows()), key=lambda p: p[0]):
        analyzer.feed(ts, row)
    analyzer.finish()
    return analyzer.take_requests()


def test_the_analyzer_escalates_a_source_across_batches(tmp_path):
    """Three SQL injections, then ordinary pages from the same source: alerts, with the reason; the same pages
    from another source are not; the memory spans judge() calls, as the subscriber's batches."""
    requests = _requests({"10.7.0.9": [SQLI, SQLI, SQLI, PAGE, PAGE], "10.7.0.10": [PAGE, PAGE, SQLI]})
    sigs, esc = InjectionSignatures(), SourceEscalation(3, 60)
    first = sorted(requests, key=lambda r: r.ts)[:5]
    rest = [r for r in requests if r not in first]
    verdicts = Analyzer.judge(first, None, sigs, esc) + Analyzer.judge(rest, None, sigs, esc)
    by_source = {}
    for v in verdicts:
        by_source.setdefault(v.src_ip, []).append(v.name)
    assert by_source["10.7.0.9"] == ["sql-injection"] * 3 + ["source-escalation"] * 2
    assert by_source["10.7.0.10"] == ["sql-injection"]  # its pages came before its one attack
    escalated = [v for v in verdicts if v.name == "source-escalation"]
    assert escalated[0].signature.sid == 1_500_040 == SIGNATURES["source-escalation"].sid
    assert "10.7.0.9 sent 3 attack requests (sql-injection)" in escalated[0].reason
    assert "judged alone: no injection signature matched" in escalated[0].reason
    assert escalated[0].request_line == "GET /items?id=7"
    assert escalated[0].model.startswith(sigs.name) and escalated[0].model.endswith("source escalation after 3 in 60 s")
    # without escalation the same requests give the signatures' three verdicts for 10.7.0.9 and nothing else
    assert [v.name for v in Analyzer.judge(first, None, sigs)] == ["sql-injection"] * 3
    out = tmp_path / "eve.json"
    writer = AlertWriter([EveFile(out)])
    writer.write(escalated)
    writer.close()
    record = json.loads(out.read_text().splitlines()[0])
    assert record["alert"]["signature_id"] == 1_500_040 and record["antinex"]["verdict"] == "source-escalation"


def test_predict_escalates_and_can_be_told_not_to(tmp_path, request_model_store):
    path = tmp_path / "c.pcap"
    # pages the shipped model calls benign (test_injection checks so), after three SQL injections
    pages = [BENIGN["contraction"]] * 2
    convs = [conversation(42000 + i, raw, 1_800_000_000.0 + i) for i, raw in enumerate([SQLI] * 3 + pages)]
    wrpcap(str(path), sorted((p for c in convs for p in c.scapy_packets()), key=lambda p: float(p.time)))
    proc = pcap("predict", str(path), "--store", str(request_model_store), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    names = [v["verdict"] for v in sorted(out["verdicts"], key=lambda v: v["src_port"]) if v["kind"] == "request"]
    assert names[:3] == ["sql-injection"] * 3 and names[3:] == ["source-escalation"] * 2, names
    assert out["summary"]["escalation"] == "after 3 in 60 s"
    off = pcap("predict", str(path), "--store", str(request_model_store), "--json", "--escalate-after", "0",
               cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    summary = json.loads(off.stdout)["summary"]
    assert summary["escalation"] is None and "source-escalation" not in summary["verdicts"]
    assert_clear_error(pcap("predict", str(path), "--store", str(request_model_store), "--escalate-window", "0",
                            cwd=tmp_path), "--escalate-window", "positive")
    assert_clear_error(pcap("predict", str(path), "--store", str(request_model_store), cwd=tmp_path,
                            env={"ANTINEX_ESCALATE_AFTER": "many"}), "ANTINEX_ESCALATE_AFTER")
