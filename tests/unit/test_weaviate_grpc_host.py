"""GUICHET_WEAVIATE_GRPC_HOST reaches the Weaviate client (issue 16, D11: the weaviate Helm chart serves
gRPC on a Service of its own). weaviate.connect_to_custom is replaced by a recorder: this certifies what
guichet passes to the client, not the client itself (tests/integration talk to a real Weaviate)."""

from __future__ import annotations

from typing import Any

import pytest

from guichet.ports.indexes import weaviate as adapter
from guichet.settings import Settings
from guichet.wiring import build_index


class Recorded(Exception):
    pass


@pytest.mark.parametrize(("grpc_host", "dialled"), [("weaviate-grpc", "weaviate-grpc"), ("", "weaviate")])
def test_the_grpc_host_setting_reaches_the_client(
    monkeypatch: pytest.MonkeyPatch, grpc_host: str, dialled: str
) -> None:
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise Recorded

    monkeypatch.setattr(adapter.weaviate, "connect_to_custom", record)
    settings = Settings(
        index_url="http://weaviate:80", weaviate_grpc_host=grpc_host, weaviate_grpc_port=50051
    )
    with pytest.raises(Recorded):
        build_index(settings, dimension=384)
    (call,) = calls
    assert (call["http_host"], call["http_port"]) == ("weaviate", 80)
    assert (call["grpc_host"], call["grpc_port"]) == (dialled, 50051)
