"""Waiting on S3/MinIO and on Weaviate is bounded by settings (issue 14, defect 7)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from guichet.ports.store import StoreError
from guichet.settings import Settings
from guichet.wiring import build_index, build_store


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_black_holed_s3_fails_within_its_timeouts(black_hole: str, tmp_path: Any) -> None:
    settings = Settings(
        data_dir=tmp_path, store_url="s3://documents", s3_endpoint=black_hole,
        s3_access_key="k", s3_secret_key="s", s3_connect_timeout=0.5, s3_read_timeout=0.3,
    )  # fmt: skip
    store = build_store(settings)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            store.get("fiches/F1.xml")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(20)  # 3 attempts of 0.3 s; botocore's defaults (60 s each) would still be waiting
    assert outcome, "the request to a silent S3 is still waiting"
    assert isinstance(outcome[0], StoreError)


def test_weaviate_gets_the_query_and_insert_timeouts_of_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import weaviate

    from guichet.ports.indexes import weaviate as adapter

    seen: dict[str, Any] = {}

    def connect(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise weaviate.exceptions.WeaviateStartUpError("stop here")

    monkeypatch.setattr(adapter.weaviate, "connect_to_custom", connect)
    settings = Settings(
        data_dir=tmp_path, index_url="http://weaviate:8080", weaviate_query_timeout=2.5,
        weaviate_insert_timeout=45.0,
    )  # fmt: skip
    with pytest.raises(Exception, match="connexion"):
        build_index(settings, dimension=8)
    timeout = seen["additional_config"].timeout
    assert (timeout.query, timeout.insert) == (2.5, 45.0)
