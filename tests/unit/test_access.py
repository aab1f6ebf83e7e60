"""API keys per site, roles, rate limits, CORS: what a site, an operator and a stranger get from /v1."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guichet.access.keys import KeyRepository, KeyRing, role_allows, split_key
from guichet.api.access import demo_settings, required_role
from guichet.api.app import create_app
from guichet.api.rate_limit import Rate, RateLimiter
from guichet.cli.main import app as cli_app
from guichet.ports.store import StoreError
from guichet.ports.stores.local import LocalObjectStore
from guichet.settings import Settings
from guichet.wiring import Stack

UNKNOWN_ANSWER = "/v1/answers/" + "0" * 32  # 404 once past access control


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keyed_stack(base: Stack, **settings: Any) -> Stack:
    """base's clients, with API keys on (the conftest turns them off for the other tests)."""
    chosen = base.settings.model_copy(update={"auth": "keys", "auth_refresh": 0.0, **settings})
    return Stack(chosen, broker=base.broker, embedder=base.embedder, index=base.index)


@pytest.fixture
def stack(embedded_stack: Stack) -> Iterator[Stack]:
    stack = keyed_stack(embedded_stack)
    yield stack
    stack.close()


@pytest.fixture
def keys(stack: Stack) -> KeyRepository:
    return KeyRepository(stack.answers.store)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_of(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def test_v1_needs_a_valid_key(stack: Stack, keys: KeyRepository) -> None:
    client = TestClient(create_app(stack))
    missing = client.get(UNKNOWN_ANSWER)
    assert missing.status_code == 401 and error_of(missing)["code"] == "cle_requise"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in error_of(missing)["message"]
    basic = client.get(UNKNOWN_ANSWER, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert error_of(basic)["code"] == "cle_requise"
    _, key = keys.create("fs-paris-11", "advisor")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for wrong in ("nope", forged, "gk_000000000000_" + "x" * 43):
        invalid = client.get(UNKNOWN_ANSWER, headers=bearer(wrong))
        assert invalid.status_code == 401 and error_of(invalid)["code"] == "cle_invalide"
    assert client.get(UNKNOWN_ANSWER, headers=bearer(key)).status_code == 404


def test_operations_and_page_stay_open(stack: Stack) -> None:
    client = TestClient(create_app(stack))
    for path in ("/healthz", "/openapi.json", "/metrics", "/docs"):
        assert client.get(path).status_code == 200, path
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/", follow_redirects=False).status_code not in (401, 403)


def test_roles(stack: Stack, keys: KeyRepository) -> None:
    client = TestClient(create_app(stack))
    _, advisor = keys.create("fs-lyon", "advisor")
    _, operator = keys.create("exploitation", "operator")
    refused = client.delete("/v1/documents/x.txt", headers=bearer(advisor))
    assert refused.status_code == 403 and error_of(refused)["code"] == "role_insuffisant"
    assert "opérateur" in error_of(refused)["message"]
    upload = client.post("/v1/documents", files={"file": ("a.txt", b"x")}, headers=bearer(advisor))
    assert upload.status_code == 403
    assert client.delete("/v1/documents/x.txt", headers=bearer(operator)).status_code == 404
    assert client.get(UNKNOWN_ANSWER, headers=bearer(operator)).status_code == 404  # and advisor's routes
    assert required_role("/v1/keys") == "admin" and required_role("/v1/search") == "advisor"
    assert role_allows("admin", "operator") and not role_allows("operator", "admin")
    assert not role_allows("stranger", "advisor")


def test_keys_are_stored_hashed(stack: Stack, keys: KeyRepository) -> None:
    record, key = keys.create("fs-brest", "advisor", "Brest centre")
    stored = stack.answers.store.get(f"access/keys/{record.id}.json")
    assert key.encode() not in stored and key.split("_", 2)[2].encode() not in stored
    assert json.loads(stored)["hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert split_key(key) == record.id and "hash" not in record.public()
    assert not list(stack.store.list())  # nothing in the documents' bucket: the index never sees keys


def test_revoked_key_stops_within_the_refresh_delay(tmp_path: Path) -> None:
    repository = KeyRepository(LocalObjectStore(tmp_path))
    clock = Clock()
    ring = KeyRing(repository, refresh_s=5.0, clock=clock)
    record, key = repository.create("fs-nantes", "advisor")
    ring.refresh()
    assert ring.authenticate(key) == record
    repository.revoke(record.id)  # from another replica, or `guichet keys revoke`
    clock.now += 4.0
    assert not ring.stale() and ring.authenticate(key) is not None  # still cached
    ring.refresh_if_stale()
    assert ring.authenticate(key) is not None  # not stale yet: not reloaded
    clock.now += 1.0
    ring.refresh_if_stale()
    assert ring.authenticate(key) is None


def test_revoked_key_is_refused_by_the_api(stack: Stack, keys: KeyRepository) -> None:
    client = TestClient(create_app(stack))  # auth_refresh=0: every request sees the store
    record, key = keys.create("fs-nice", "advisor")
    assert client.get(UNKNOWN_ANSWER, headers=bearer(key)).status_code == 404
    assert keys.revoke(record.id) is not None
    assert error_of(client.get(UNKNOWN_ANSWER, headers=bearer(key)))["code"] == "cle_invalide"


def test_unknown_key_reloads_at_most_once_a_second(tmp_path: Path) -> None:
    """A key created on another replica works at once; a flood of bad keys costs one listing a second."""
    repository = KeyRepository(LocalObjectStore(tmp_path))
    clock = Clock()
    ring = KeyRing(repository, refresh_s=3600.0, clock=clock)
    ring.refresh()
    _, key = repository.create("fs-a", "advisor")
    assert ring.authenticate(key) is None and not ring.knows(key)
    ring.reload_for_unknown()  # too soon after the last load: nothing read
    assert ring.authenticate(key) is None
    clock.now += 1.0
    ring.reload_for_unknown()
    assert ring.authenticate(key) is not None


class FlakyStore(LocalObjectStore):
    down = False

    def list(self, prefix: str = "") -> Iterator[Any]:
        if self.down:
            raise StoreError("stockage injoignable")
        return super().list(prefix)


def test_store_outage_keeps_known_keys_and_refuses_before_any(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path)
    repository = KeyRepository(store)
    record, key = repository.create("fs-lille", "advisor")
    store.down = True
    ring = KeyRing(repository, refresh_s=0.0)
    with pytest.raises(StoreError):
        ring.refresh()
    store.down = False
    ring.refresh()
    store.down = True
    ring.refresh()  # logged, not raised: the keys known a moment ago stay valid
    assert ring.authenticate(key) == record


def test_keys_unreadable_at_start_is_503(embedded_stack: Stack, tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "answers-down")
    store.down = True
    base = embedded_stack
    chosen = base.settings.model_copy(update={"auth": "keys"})
    stack = Stack(chosen, broker=base.broker, embedder=base.embedder, index=base.index, answers=store)
    response = TestClient(create_app(stack)).get(
        UNKNOWN_ANSWER, headers=bearer("gk_" + "a" * 12 + "_" + "b" * 43)
    )
    assert response.status_code == 503 and error_of(response)["code"] == "service_indisponible"


def test_rate_limit_per_site_and_kind(stack: Stack, keys: KeyRepository) -> None:
    limited = keyed_stack(stack, rate_read_per_minute=1.0, rate_read_burst=2)
    client = TestClient(create_app(limited))
    _, noisy = keys.create("fs-noisy", "advisor")
    _, quiet = keys.create("fs-quiet", "advisor")
    assert [client.get(UNKNOWN_ANSWER, headers=bearer(noisy)).status_code for _ in range(2)] == [404, 404]
    over = client.get(UNKNOWN_ANSWER, headers=bearer(noisy))
    assert over.status_code == 429 and error_of(over)["code"] == "trop_de_requetes"
    assert int(over.headers["Retry-After"]) >= 1 and "réessayez dans" in error_of(over)["message"]
    assert 'status="429"' in client.get("/metrics").text  # operators see sites being limited
    assert client.get(UNKNOWN_ANSWER, headers=bearer(quiet)).status_code == 404  # another site
    # Asks have their own bucket: reading too much does not stop a site from asking.
    asked = client.post("/v1/ask", json={"question": "Carte d'identité ?"}, headers=bearer(noisy))
    assert asked.status_code == 202


def test_token_bucket_refills() -> None:
    clock = Clock()
    limiter = RateLimiter({"ask": Rate(per_minute=6.0, burst=2)}, clock=clock)  # one token every 10 s
    assert limiter.take("s", "ask") == 0 and limiter.take("s", "ask") == 0
    assert limiter.take("s", "ask") == pytest.approx(10.0)
    clock.now += 5.0
    assert limiter.take("s", "ask") == pytest.approx(5.0)
    clock.now += 5.0
    assert limiter.take("s", "ask") == 0
    assert limiter.take("s", "unlimited kind") == 0
    assert RateLimiter({"ask": Rate(0.0, 1)}).take("s", "ask") == 0  # 0 per minute: no limit


def test_cors_is_closed_by_default(stack: Stack) -> None:
    client = TestClient(create_app(stack))
    origin = {"Origin": "https://ailleurs.example"}
    preflight = client.options(
        "/v1/ask", headers={**origin, "Access-Control-Request-Method": "POST"}
    )  # fmt: skip
    assert not any(h.lower().startswith("access-control-") for h in preflight.headers)
    assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers


def test_cors_opens_to_listed_origins(stack: Stack) -> None:
    page = "https://guichet.example"
    client = TestClient(create_app(keyed_stack(stack, cors_origins=f"{page}/, https://autre.example")))
    preflight = client.options(
        "/v1/ask",
        headers={"Origin": page, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == page
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = client.get(UNKNOWN_ANSWER, headers={"Origin": page})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == page
    stranger = client.get("/healthz", headers={"Origin": "https://ailleurs.example"})
    assert "access-control-allow-origin" not in stranger.headers


def test_auth_defaults_to_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUICHET_AUTH", raising=False)
    assert Settings().auth == "keys"


def test_demo_on_loopback_needs_no_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GUICHET_AUTH", raising=False)
    assert demo_settings(Settings(), "127.0.0.1").auth == "off"
    assert "sans clé" in capsys.readouterr().out
    assert demo_settings(Settings(), "0.0.0.0").auth == "keys"  # reachable from others: keys
    assert "guichet keys create" in capsys.readouterr().out
    monkeypatch.setenv("GUICHET_AUTH", "keys")
    assert demo_settings(Settings(), "localhost").auth == "keys"  # said explicitly: kept


def test_auth_off_lets_everything_in(embedded_stack: Stack) -> None:
    assert embedded_stack.settings.auth == "off"
    assert TestClient(create_app(embedded_stack)).get(UNKNOWN_ANSWER).status_code == 404


def test_keys_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    created = runner.invoke(
        cli_app, ["keys", "create", "--site", "fs-rennes", "--role", "operator", "--json"]
    )
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert made["key"].startswith(f"gk_{made['id']}_") and made["role"] == "operator"
    listed = runner.invoke(cli_app, ["keys", "list", "--json"])
    assert made["key"] not in listed.stdout and "hash" not in listed.stdout
    assert [k["site"] for k in json.loads(listed.stdout)] == ["fs-rennes"]
    assert runner.invoke(cli_app, ["keys", "revoke", made["id"]]).exit_code == 0
    assert json.loads(runner.invoke(cli_app, ["keys", "list", "--json"]).stdout)[0]["revoked_at"] is not None
    ring = KeyRing(KeyRepository(LocalObjectStore(tmp_path / "answers")), refresh_s=5.0)
    ring.refresh()
    assert ring.authenticate(made["key"]) is None
    assert runner.invoke(cli_app, ["keys", "revoke", "ffffffffffff"]).exit_code == 1
    bad_site = runner.invoke(cli_app, ["keys", "create", "--site", "../x"])
    assert bad_site.exit_code != 0
    bad_role = runner.invoke(cli_app, ["keys", "create", "--site", "x", "--role", "root"])
    assert bad_role.exit_code != 0


def test_openapi_documents_the_key_only_when_required(stack: Stack, embedded_stack: Stack) -> None:
    schema = TestClient(create_app(stack)).get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["cleSite"]["scheme"] == "bearer"
    ask = schema["paths"]["/v1/ask"]["post"]
    assert ask["security"] == [{"cleSite": []}] and {"401", "403", "429"} <= set(ask["responses"])
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert "$ref" in ask["responses"]["401"]["content"]["application/json"]["schema"]
    assert "ErrorBody" in schema["components"]["schemas"]
    open_schema = TestClient(create_app(embedded_stack)).get("/openapi.json").json()
    assert "security" not in open_schema["paths"]["/v1/ask"]["post"]


def test_stream_takes_the_key_from_the_authorization_header(stack: Stack, keys: KeyRepository) -> None:
    from guichet.answer.record import AnswerRecord, AskJob

    job = AskJob("b" * 32, "Question ?")
    stack.answers.put(AnswerRecord.queued(job).failed("x", "y"))  # final: the stream ends with it
    _, key = keys.create("fs-page", "advisor")
    client = TestClient(create_app(stack))
    path = f"/v1/answers/{job.id}/stream"
    assert client.get(path).status_code == 401
    with client.stream("GET", path, headers={**bearer(key), "Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert "event: error" in body and '"code": "x"' in body  # the failed record, streamed
