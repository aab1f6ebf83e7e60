"""An oversized upload to /v1/documents is refused while it is read, not after the whole body was spooled
(issue 14, defect 9). Through the HTTP layer: the whole ASGI application (middlewares, multipart parsing,
route) is called as uvicorn calls it, the body fed in chunks the way a chunked upload arrives, and the
chunks the application pulled are counted (TestClient would hand it the whole body in one message)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message

from guichet.api.app import create_app
from guichet.wiring import Stack

CHUNK = 64 * 1024
CHUNKS = 200  # 12.5 MiB, against the test stack's 100 kB limit
BOUNDARY = "frontiere"


def multipart_chunks() -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="enorme.md"\r\n'
        "Content-Type: text/markdown\r\n\r\n"
    ).encode()
    for _ in range(CHUNKS):
        yield b"a" * CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


class Upload:
    """One POST /v1/documents, as a server hands it to the application."""

    def __init__(self, declared_length: int | None = None) -> None:
        self.chunks = multipart_chunks()
        self.pulled = 0  # body bytes the application read
        self.finished = False
        self.sent: list[Message] = []
        headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
        if declared_length is not None:
            headers.append((b"content-length", str(declared_length).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
        self.scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/documents", "raw_path": b"/v1/documents", "root_path": "",
            "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }  # fmt: skip

    async def receive(self) -> Message:
        if self.finished:
            await asyncio.sleep(3600)  # the client waits for the answer
            return {"type": "http.disconnect"}
        chunk = next(self.chunks, None)
        if chunk is None:
            self.finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def run(self, app: ASGIApp) -> tuple[int, dict[str, object]]:
        asyncio.run(asyncio.wait_for(app(self.scope, self.receive, self.send), 60))
        (start,) = [m for m in self.sent if m["type"] == "http.response.start"]
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return start["status"], json.loads(body)


def test_an_oversized_chunked_upload_is_cut_short(embedded_stack: Stack) -> None:
    limit = embedded_stack.settings.max_document_bytes
    upload = Upload()
    status, body = upload.run(create_app(embedded_stack))
    assert status == 413
    assert body["error"]["code"] == "trop_volumineux"  # type: ignore[index]
    assert upload.pulled <= limit + 128 * 1024, f"{upload.pulled} bytes read for a {limit}-byte limit"
    assert embedded_stack.store.head("enorme.md") is None


def test_a_declared_oversized_upload_is_refused_unread(embedded_stack: Stack) -> None:
    upload = Upload(declared_length=CHUNKS * CHUNK)
    status, body = upload.run(create_app(embedded_stack))
    assert status == 413
    assert body["error"]["code"] == "trop_volumineux"  # type: ignore[index]
    assert upload.pulled == 0


def test_an_upload_within_the_limit_is_stored(embedded_stack: Stack) -> None:
    client = TestClient(create_app(embedded_stack))
    response = client.post("/v1/documents", files={"file": ("petit.md", b"# Titre\n\nUn texte court.\n")})
    assert response.status_code == 201, response.text
    assert embedded_stack.store.head("petit.md") is not None
