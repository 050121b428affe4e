"""``antinex-pcap``: wrong paths are one clear line and exit 2, never a traceback (no broker needed)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from conftest import free_port


@pytest.fixture
def capture(tmp_path) -> Path:
    path = tmp_path / "c.pcap"
    wrpcap(str(path), [Ether() / IP(src="10.3.0.1", dst="10.3.0.2") / TCP(sport=40000 + i, dport=80) /
                       Raw(b"GET /%d HTTP/1.1\r\n\r\n" % i) for i in range(5)])
    return path


def pcap(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real command line in a new process, as a user runs it (``env``: variables added to ours)."""
    return subprocess.run([sys.executable, "-m", "antinex.pipeline.pcap", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, **env} if env else None)


def assert_clear_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("antinex-pcap: error: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("mode", ["default", "v1"])
def test_to_csv_creates_a_missing_output_directory(capture, tmp_path, mode):
    out = tmp_path / "missing" / "dir" / "x.csv"
    proc = pcap("to-csv", str(capture), "-o", str(out), "--mode", mode, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 5 rows to {out}" in proc.stdout
    df = pd.read_csv(out)
    assert len(df) == 5
    if mode == "default":  # the features the shipped detector reads come with the rows
        from antinex.pipeline.payload_features import PAYLOAD_FEATURES

        assert set(PAYLOAD_FEATURES) <= set(df.columns) and (df["http_is_request"] == 1).all()
    else:  # the original's columns, nothing added
        assert not [c for c in df.columns if c.startswith(("payload_", "http_"))]


def test_help_says_the_directory_is_created(tmp_path):
    proc = pcap("to-csv", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "directory is created" in " ".join(proc.stdout.split())


def test_output_that_cannot_be_a_file(capture, tmp_path):
    assert_clear_error(pcap("to-csv", str(capture), "-o", str(tmp_path), cwd=tmp_path), "is a directory")
    blocked = capture / "x.csv"  # the "directory" is the capture file itself
    assert_clear_error(pcap("to-csv", str(capture), "-o", str(blocked), cwd=tmp_path),
                       f"{capture} is a file, not a directory")


@pytest.mark.parametrize("mode", ["default", "v1"])
def test_bad_inputs(tmp_path, mode):
    out = str(tmp_path / "out" / "x.csv")
    text = tmp_path / "notes.pcap"
    text.write_text("not a capture\n" * 10)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    cases = {tmp_path / "absent.pcap": "no such capture file", text: "not a pcap or pcapng capture file",
             empty: "not a pcap or pcapng capture file", tmp_path: "is a directory, not a capture file"}
    for path, words in cases.items():
        assert_clear_error(pcap("to-csv", str(path), "-o", out, "--mode", mode, cwd=tmp_path), str(path), words)
    assert not (tmp_path / "out").exists(), "a bad input must fail before anything is written"


def test_replay_checks_the_file_before_connecting(tmp_path):
    text = tmp_path / "notes.pcap"
    text.write_text("not a capture\n")
    # nothing listens on this port: reaching the broker would be a different error (or a wait)
    broker = f"redis://127.0.0.1:{free_port()}/0"
    for path, words in ((tmp_path / "absent.pcap", "no such capture file"),
                        (text, "not a pcap or pcapng capture file")):
        assert_clear_error(pcap("replay", str(path), "--broker", broker, cwd=tmp_path), words)


# -- bad input for every subcommand: one line, exit 2, never a traceback -------------------------------
def http_packets(n: int = 4) -> list:
    return [Ether() / IP(src="10.3.0.1", dst="10.3.0.2") / TCP(sport=40000 + i, dport=80, flags="PA") /
            Raw(b"GET /%d HTTP/1.1\r\nHost: app\r\n\r\n" % i) for i in range(n)]


def truncated_copies(path: Path, tmp_path: Path) -> dict[Path, str]:
    data = path.read_bytes()
    inside_record = tmp_path / "cut-record.pcap"
    inside_record.write_bytes(data[:-7])  # the last packet's bytes end early
    inside_header = tmp_path / "cut-header.pcap"
    inside_header.write_bytes(data + data[24:24 + 9])  # 9 bytes of a next record header, then nothing
    return {inside_record: "3 complete packets", inside_header: "4 complete packets"}


@pytest.mark.parametrize("command", ["predict", "to-csv", "replay"])
def test_truncated_captures_are_refused(tmp_path, command, request, redis_db):
    good = tmp_path / "good.pcap"
    wrpcap(str(good), http_packets())
    extra = {"to-csv": ["-o", str(tmp_path / "x.csv")], "replay": ["--broker", redis_db("pipeline")]}.get(command)
    if extra is None:
        extra = ["--store", str(request.getfixturevalue("request_model_store"))]
    for path, words in truncated_copies(good, tmp_path).items():
        assert_clear_error(pcap(command, str(path), *extra, cwd=tmp_path), str(path), "is truncated", words)
    # with --allow-truncated the packets before the cut are used
    cut = next(iter(truncated_copies(good, tmp_path)))
    proc = pcap("to-csv", str(cut), "-o", str(tmp_path / "y.csv"), "--allow-truncated", cwd=tmp_path)
    assert proc.returncode == 0 and "wrote 3 rows" in proc.stdout


def test_non_ethernet_captures_are_named(tmp_path):
    from scapy.utils import PcapNgWriter

    raw_ip = tmp_path / "raw-ip.pcap"
    wrpcap(str(raw_ip), [p[IP] for p in http_packets()])  # link type 101: raw IP
    cooked = tmp_path / "any.pcap"
    from scapy.layers.l2 import CookedLinux

    wrpcap(str(cooked), [CookedLinux() / p[IP] for p in http_packets()])  # tcpdump -i any
    ng = tmp_path / "raw-ip.pcapng"
    w = PcapNgWriter(str(ng))
    for p in http_packets():
        w.write(p[IP])
    w.close()
    for path, kind in ((raw_ip, "raw IP"), (cooked, "Linux cooked"), (ng, "raw IP")):
        for command in (["to-csv", str(path), "-o", str(tmp_path / "x.csv")], ["replay", str(path), "--broker",
                                                                               f"redis://127.0.0.1:{free_port()}/0"]):
            assert_clear_error(pcap(*command, cwd=tmp_path), str(path), "link type", kind, "Ethernet")


def test_pcapng_is_read(tmp_path):
    from scapy.utils import PcapNgWriter

    ng = tmp_path / "c.pcapng"
    w = PcapNgWriter(str(ng))
    for i, p in enumerate(http_packets()):
        p.time = 1_700_000_000.25 + i
        w.write(p)
    w.close()
    out = tmp_path / "r.csv"
    proc = pcap("to-csv", str(ng), "-o", str(out), "--kind", "requests", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    assert list(df["target"]) == ["/0", "/1", "/2", "/3"]
    assert list(df["ts"]) == [1_700_000_000.25 + i for i in range(4)]  # sub-second times survive


def test_predict_refuses_a_model_that_does_not_exist(tmp_path, capture):
    store = tmp_path / "models"
    proc = pcap("predict", str(capture), "--store", str(store), "--model", "no-such-model", cwd=tmp_path)
    assert_clear_error(proc, "no stored model named 'no-such-model'", "antinex quickstart")
    assert not store.exists(), "looking for a model creates no store"


def test_predict_refuses_a_capture_without_http(tmp_path, request_model_store):
    tls = tmp_path / "tls.pcap"
    wrpcap(str(tls), [Ether() / IP(src="10.3.0.1", dst="10.3.0.2") / TCP(sport=40000, dport=443, flags="PA") /
                      Raw(bytes.fromhex("160301020001") + b"\x00" * 200),
                      Ether() / IP(src="10.3.0.1", dst="10.3.0.9") / UDP(sport=5353, dport=53) / Raw(b"\x00" * 20)])
    proc = pcap("predict", str(tls), "--store", str(request_model_store), cwd=tmp_path)
    assert_clear_error(proc, str(tls), "holds no HTTP traffic", "2 packets")


def test_predict_refuses_bad_options(tmp_path, capture, request_model_store):
    suppress = tmp_path / "suppress.conf"
    suppress.write_text("# ok\nsuppress gen_id 1, sig_id 1500030\nsuppress gen_id 1, sig_id 1500001, track by_src, ip 10.0.0.300\n")
    proc = pcap("predict", str(capture), "--store", str(request_model_store), "--suppress", str(suppress),
                cwd=tmp_path)
    assert_clear_error(proc, f"{suppress}, line 3", "10.0.0.300", "not an IP address")
    proc = pcap("predict", str(capture), "--store", str(request_model_store), "--eve", str(tmp_path), cwd=tmp_path)
    assert_clear_error(proc, "is a directory")
    proc = pcap("predict", str(capture), "--store", str(request_model_store), "--profile", str(suppress),
                cwd=tmp_path)
    assert_clear_error(proc, "flow profile", "not JSON")


def test_replay_to_a_broker_that_does_not_answer(tmp_path, capture):
    broker = f"redis://127.0.0.1:{free_port()}/0"
    assert_clear_error(pcap("replay", str(capture), "--broker", broker, cwd=tmp_path), "cannot publish to the broker",
                       broker)
