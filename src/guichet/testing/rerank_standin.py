"""A small local stand-in for a rerank endpoint, speaking both shapes the HTTP reranker sends:
Hugging Face TEI (POST /rerank) and Albert API (POST /v1/rerank). It is not a cross-encoder: a
passage's score is the share of the query's content terms it contains. Tests that run the HTTP
reranker against it certify the adapter against the documented request/response shapes as this
stand-in implements them, not against a real TEI or Albert server.

`fail_with` makes every request answer that HTTP status (failure tests); `requests` keeps the bodies.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from guichet.lexical import analyze, question_terms


def overlap_score(query: str, text: str) -> float:
    wanted = question_terms(query)
    return len(wanted & frozenset(analyze(text))) / len(wanted) if wanted else 0.0


class RerankStandIn:
    def __init__(self) -> None:
        self.fail_with: int | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                standin.requests.append((self.path, body))
                status, answer = standin.answer(self.path, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self.fail_with is not None:
            return self.fail_with, {"error": "stand-in told to fail"}
        if path == "/rerank" and "query" in body and "texts" in body:  # TEI: a list, best first
            ranks = _scored(body["query"], body["texts"])
            return 200, sorted(ranks, key=lambda r: -float(r["score"]))
        if path == "/v1/rerank" and {"prompt", "input", "model"} <= body.keys():  # Albert API
            return 200, {"object": "list", "data": _scored(body["prompt"], body["input"])}
        return 422, {"detail": "requête de rerank invalide"}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _scored(query: str, texts: list[str]) -> list[dict[str, Any]]:
    return [{"index": i, "score": overlap_score(query, text)} for i, text in enumerate(texts)]
