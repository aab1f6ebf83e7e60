"""The S3 store's one boto3 client is sized for a function's concurrent request threads."""

from __future__ import annotations

from guichet.ports.stores.s3 import MAX_POOL_CONNECTIONS, S3ObjectStore


def test_the_client_keeps_enough_connections_for_concurrent_requests() -> None:
    store = S3ObjectStore("answers", endpoint_url="http://127.0.0.1:9", access_key="k", secret_key="s")
    config = store._client.meta.config
    assert config.max_pool_connections == MAX_POOL_CONNECTIONS > 10  # botocore's default is 10
    assert config.s3 == {"addressing_style": "path"}
