"""A RabbitMQ node of the tests' own, so that restarting it hurts no one else.

The shared broker on 5672 serves other test runs at the same time: it is never restarted. This node has
its own name, ports, data, logs, config and Erlang cookie (HOME) in a temporary folder, no plugins (the
answer streams are AMQP 0-9-1 stream queues), and listens on 127.0.0.1 only. epmd (port 4369) is shared,
which is how Erlang nodes find each other on one machine.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from guichet.testing.helpers import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # the Debian package's own scripts, not the su wrappers


def rabbitmq_available() -> bool:
    return (RABBITMQ_BIN / "rabbitmq-server").exists()


class PrivateRabbitMQ:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.node = f"guichet-faults-{uuid.uuid4().hex[:8]}@localhost"
        root.mkdir(parents=True, exist_ok=True)
        (root / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's: that names the shared node
        self._env = {
            **os.environ,
            "HOME": str(root),  # its own Erlang cookie
            "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        subprocess.run([RABBITMQ_BIN / "rabbitmq-server", "-detached"], env=self._env, check=True, timeout=30)
        self._ctl("wait", str(self.root / "rabbitmq.pid"), "--timeout", "90")

    def stop_app(self) -> None:
        """The broker goes away (every connection closed, port closed); the Erlang node stays up."""
        self._ctl("stop_app")

    def start_app(self) -> None:
        """The broker comes back with its durable queues and persistent messages."""
        self._ctl("start_app")
        self._ctl("await_startup", "--timeout", "60")

    def stop(self) -> None:
        self._ctl("stop", str(self.root / "rabbitmq.pid"))

    def raise_memory_alarm(self) -> None:
        """A memory alarm (watermark 0): RabbitMQ blocks every publishing connection. This node only."""
        self._ctl("set_vm_memory_high_watermark", "0")

    def clear_memory_alarm(self) -> None:
        self._ctl("set_vm_memory_high_watermark", "0.4")  # RabbitMQ's default

    def has_alarm(self) -> bool:
        result = subprocess.run(
            [RABBITMQ_BIN / "rabbitmq-diagnostics", "-n", self.node, "check_alarms"],
            env=self._env,
            timeout=60,
            capture_output=True,
        )
        return result.returncode != 0

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [RABBITMQ_BIN / "rabbitmqctl", "-n", self.node, *args],
            env=self._env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
