"""pcap replay → NEW_PACKETS → subscriber → batches to the real API → predictions CSV."""
from __future__ import annotations

import json
import shutil
import time

import pandas as pd
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from conftest import redis_url
from antinex.pipeline.pcap import main as pcap_main
from antinex.pipeline.subscriber import Subscriber

pytestmark = pytest.mark.stack

NORMAL = b"GET /items/12 HTTP/1.1\r\nHost: app\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0)\r\n\r\n"
ATTACK = (b"GET /search?q=notes%27%20AND%201%3D1%20UNION%20ALL%20SELECT%20NULL%2CCONCAT%280x71%2C0x7178%29--%20-"
          b" HTTP/1.1\r\nHost: app\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n")


def test_replayed_capture_is_predicted_in_batches(redis_db, tmp_path):
    from stack import LiveStack

    from antinex.client.ai_client import AIClient
    from antinex.pipeline.predict_publisher import PredictPublisher
    from antinex.utils.data import PACKET_REQUEST, PACKET_TRAIN

    packets_url = redis_db("pipeline")
    pkts = [Ether(bytes(Ether() / IP(src="10.5.0.2", dst="10.5.0.1") / TCP(sport=41000 + i, dport=8080, flags="PA") /
                        Raw(ATTACK if i % 2 else NORMAL))) for i in range(10)]
    pcap = tmp_path / "replay.pcap"
    wrpcap(str(pcap), pkts)
    with LiveStack(redis_url("reliability"), core_redis=redis_url("reliability_core"), with_core=True,
                   tmp_path=tmp_path / "stack") as stack:
        shutil.copy(PACKET_TRAIN, stack.datasets_dir / "train.csv.gz")
        stack.create_user("stream", "stream-pass-1")
        template = json.loads(PACKET_REQUEST.read_text())
        template.update(label="Stream-Detector", dataset="train.csv.gz", epochs=5)
        client = AIClient(user="stream", password="stream-pass-1", url=stack.url, timeout=10)
        started = client.run_job(template)
        assert client.wait_for_job_to_finish(started["data"]["job"]["id"], sec_to_sleep=0.3,
                                             timeout=240)["status"] == 0
        template.pop("dataset")
        out = tmp_path / "predictions.csv"
        publisher = PredictPublisher(client=client, template=template, out=out, timeout=120)

        import os

        os.environ["FORWARD_BROKER_URL"] = packets_url
        try:
            assert pcap_main(["replay", str(pcap), "--broker", packets_url]) == 0
        finally:
            os.environ.pop("FORWARD_BROKER_URL")
        sub = Subscriber(packets_url, tmp_path / "rows", "stream", predictor=publisher, batch_size=4, max_delay=0.3)
        sub.run(idle_timeout=2.0)
        assert sub.received == 10 and publisher.sent == 10
        deadline = time.time() + 120
        while time.time() < deadline and (not out.exists() or len(pd.read_csv(out)) < 10):
            time.sleep(0.3)
    preds = pd.read_csv(out)
    assert len(preds) == 10 and preds["job_id"].nunique() == 3  # batches of 4, 4 and 2: only new rows each time
    assert set(preds["label_name"]) <= {"attack", "not_attack"}
    assert (preds["label_name"] == "attack").sum() >= 4  # the sqlmap requests are flagged
