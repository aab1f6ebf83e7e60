"""`guichet serve` as a user runs it: one process, the embedded stack, documents indexed from events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guichet.testing.helpers import free_port


def wait_for(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "GUICHET_DATA_DIR": str(tmp_path / "data")}
    env.pop("GUICHET_BROKER_URL", None)
    seed = tmp_path / "seed.txt"
    seed.write_text("Le chèque énergie aide à payer les factures d'énergie.", encoding="utf-8")
    # A non-empty index: serve then skips indexing the sample corpus (minutes of embedding here).
    subprocess.run([sys.executable, "-m", "guichet", "ingest", str(seed)], env=env, check=True, timeout=120)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "guichet", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0, "serve did not stop cleanly on SIGTERM"
        finally:
            process.kill()


def found(url: str, query: str, doc_id: str) -> bool:
    hits = httpx.get(f"{url}/v1/search", params={"q": query, "k": 5}).json()
    return any(hit["id"] == doc_id for hit in hits)


def test_upload_is_indexed_by_the_embedded_worker_then_removed(server: str) -> None:
    text = "La carte de stationnement pour personnes handicapées se demande auprès de la MDPH."
    key = "partenaires/stationnement pmr.txt"
    upload = httpx.post(f"{server}/v1/documents", files={"file": ("x.txt", text.encode())}, data={"key": key})
    assert upload.status_code == 201
    wait_for(lambda: found(server, "carte de stationnement handicapé", key))
    assert httpx.delete(f"{server}/v1/documents/{key}").status_code == 204
    wait_for(lambda: not found(server, "carte de stationnement handicapé", key))
    assert found(server, "chèque énergie", "seed.txt")
