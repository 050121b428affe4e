"""Datasets the product ships, recorded with the dataset lab (docs/dataset-lab.md).

* the quick start's detector: ``request.json`` trained on ``requests.csv.gz``, one row per reassembled
  HTTP request with its text (``http_request``): what ``antinex-pcap predict`` and the subscriber's live
  verdicts use by default;
* the per-packet detector: ``request-packets.json`` trained on ``train.csv.gz``, one row per HTTP request
  packet (the original's wire format: packet rows keep per-packet predictions).
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_DIR = DATA_DIR / "default"
DEFAULT_REQUEST = DEFAULT_DIR / "request.json"
DEFAULT_TRAIN = DEFAULT_DIR / "requests.csv.gz"
PACKET_REQUEST = DEFAULT_DIR / "request-packets.json"
PACKET_TRAIN = DEFAULT_DIR / "train.csv.gz"
