"""The document store goes down while asks continue (issue 14, defect 6): the functions stay ready (the
document store is reported, not fatal: asking needs only the broker and the answer store), asks keep
being accepted and are answered. The outage: the documents bucket disappears (moto), so that the answer
store, on the same S3 endpoint, stays up."""

from __future__ import annotations

import boto3
import pytest

from guichet.ports.stores.s3 import S3ObjectStore
from tests.deployment import QUESTION
from tests.faults.launched import Launch
from tests.faults.ledger import record_row

pytestmark = [pytest.mark.faults, pytest.mark.s3]


def test_asks_go_on_while_the_document_store_is_down(launch: Launch, moto_s3: str) -> None:
    documents = S3ObjectStore("documents-down", endpoint_url=moto_s3, create_bucket=True)
    run = launch(
        "stockage des documents injoignable, demandes en cours",
        llm_delay=0.03,
        GUICHET_STORE_URL=f"s3://{documents.bucket}",
    )
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    run.ask_many(3)
    s3.delete_bucket(Bucket=documents.bucket)
    try:
        ready = run.deployment.readyz()
        statuses = [run.ledger.submit(f"{QUESTION} (pendant la panne {n})") for n in range(4)]
    finally:
        s3.create_bucket(Bucket=documents.bucket)
    row = run.ledger.settle()
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["store"] is False and ready.json()["status"] == "degraded"
    assert statuses == [202] * 4
    assert row.accepted == 7 and row.answered == 7 and row.lost == 0 and row.duplicated == 0, row
    row.note = "/readyz stayed 200 (degraded, store: false) during the outage: the replicas stayed in service"
    record_row(row)
