"""``antinex-pcap``: wrong paths are one clear line and exit 2, never a traceback (no broker needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scapy.layers.inet import IP, TCP
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


def pcap(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command line in a new process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "antinex.pipeline.pcap", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


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
    assert len(pd.read_csv(out)) == 5


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
