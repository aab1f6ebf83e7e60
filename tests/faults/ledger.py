"""Counting what became of every ask submitted during a fault: accepted, refused, answered, lost,
duplicated; one row per fault in artifacts/faults.json (benchmarks/fault_table.py prints the table).

"Duplicated" is measured, not inferred: the answers bucket is versioned, so every put of an answer
record is kept, and an ask whose record was written final ("done" or "failed") more than once was
answered twice. "Lost" is an accepted ask (202) with no final record once the system has settled.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from guichet.testing.helpers import wait_for
from tests.deployment import Deployment

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FINAL = ("done", "failed")
SETTLE_S = 180  # bounds a failure only: a settled run takes seconds


@dataclass
class FaultRow:
    fault: str
    submitted: int = 0
    accepted: int = 0
    refused: int = 0  # 503: not accepted, so never counted as lost
    answered: int = 0  # final "done" (generated or extractive)
    failed: int = 0  # final "failed": an answer saying why, not a loss
    lost: int = 0
    duplicated: int = 0
    extractive: int = 0
    redelivered: int = 0  # final records written on a second or later delivery
    other_status: list[int] = field(default_factory=list)
    note: str = ""  # what else the test measured (benchmarks/fault_table.py prints it under the table)


@dataclass
class IndexFaultRow:
    fault: str
    events: int = 0  # notifications published, poisoned and good ones
    dead_lettered: int = 0
    with_reason: int = 0  # dead-lettered with a reason a person can act on (header x-guichet-reason)
    indexed: int = 0
    lost: int = 0  # neither indexed nor dead-lettered
    worker_alive: bool = False


def versioned_bucket(endpoint: str, bucket: str) -> Any:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


class AskLedger:
    def __init__(self, fault: str, deployment: Deployment, s3: Any, bucket: str) -> None:
        self.row = FaultRow(fault)
        self.ids: list[str] = []
        self._deployment, self._s3, self._bucket = deployment, s3, bucket

    def submit(self, question: str) -> int:
        self.row.submitted += 1
        response = self._deployment.submit(question)
        if response.status_code == 202:
            self.ids.append(str(response.json()["id"]))
        elif response.status_code == 503:
            self.row.refused += 1
        else:
            self.row.other_status.append(response.status_code)
        return response.status_code

    def final_versions(self, answer_id: str) -> list[dict[str, Any]]:
        """Every final version of the answer's record, oldest first."""
        key = f"answers/{answer_id}.json"
        listing = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        finals = []
        for version in sorted(listing.get("Versions", []), key=lambda v: v["LastModified"]):
            if version["Key"] != key:
                continue
            body = self._s3.get_object(Bucket=self._bucket, Key=key, VersionId=version["VersionId"])["Body"]
            record = json.loads(body.read())
            if record.get("status") in FINAL:
                finals.append(record)
        return finals

    def settle(self, quiet_s: float = 1.5) -> FaultRow:
        """Waits until every accepted ask has a final record (or SETTLE_S passed), then counts."""
        with contextlib.suppress(AssertionError):  # what is still not final is counted as lost below
            wait_for(lambda: all(self.final_versions(i) for i in self.ids), timeout=SETTLE_S, interval=0.5)
        time.sleep(quiet_s)  # a duplicate answer would be written now, by a redelivery still running
        row = self.row
        row.accepted = len(self.ids)
        for answer_id in self.ids:
            finals = self.final_versions(answer_id)
            row.lost += not finals
            row.duplicated += len(finals) > 1
            if finals:
                last = finals[-1]
                row.answered += last["status"] == "done"
                row.failed += last["status"] == "failed"
                row.extractive += last.get("mode") == "extractive"
                row.redelivered += int(last.get("attempt") or 1) > 1
        record_row(row)
        return row


def record_row(row: FaultRow | IndexFaultRow) -> None:
    """Adds (or replaces) this fault's row in artifacts/faults.json."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "faults.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    rows = [r for r in rows if r.get("fault") != row.fault] + [asdict(row)]
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
