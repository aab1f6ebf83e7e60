"""The object store goes down (S3 unreachable: documents and answer records): readiness says so, new
asks are refused with 503 (never accepted, then lost), and the asks accepted before the outage are
answered once it is over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from guichet.ports.stores.s3 import S3ObjectStore
from tests.faults.launched import Launch, outage
from tests.faults.proxy import TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.s3]

OUTAGE_S = 4  # longer than a generation: the worker meets the outage when it stores its records


@pytest.fixture
def s3_proxy(moto_s3: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(urlparse(moto_s3).port or 80)
    yield proxy
    proxy.cut()


def test_store_outage_refuses_asks_and_loses_none(launch: Launch, s3_proxy: TcpProxy, moto_s3: str) -> None:
    documents = S3ObjectStore("documents-faults", endpoint_url=moto_s3, create_bucket=True)
    run = launch(
        "stockage objet injoignable",
        s3_endpoint=s3_proxy.url,
        llm_delay=0.03,
        GUICHET_STORE_URL=f"s3://{documents.bucket}",
        # Retries that outlast the outage, so that the jobs in hand are answered rather than failed.
        GUICHET_RETRY_BACKOFF="0.5",
        GUICHET_MAX_RETRY_BACKOFF="2",
        GUICHET_MAX_DELIVERIES="10",
    )
    readiness: list[httpx.Response] = []

    def while_down() -> None:
        readiness.append(httpx.get(f"{run.deployment.url}/readyz", timeout=30))
        time.sleep(OUTAGE_S)

    row = run.ask_across(
        outage(s3_proxy.cut, s3_proxy.restore), before=3, during=5, after=2, while_down=while_down
    )
    [ready] = readiness
    assert ready.status_code == 503
    # The answer store is what the functions need; the document store is reported only (issue 14).
    assert "answers" in ready.json()["error"]["message"]
    assert row.redelivered >= 1, "no job in hand met the outage"
