"""The process edge: what every entry point (CLI, functions/app.py, workers/*.py) does first.

Settings are read once here; logging is configured with personal-data masking installed before the first
record, so no entry point can skip it (docs/data-protection.md).
"""

from __future__ import annotations

import logging

from guichet import metrics
from guichet.access.log_masking import install_log_masking
from guichet.settings import Settings, load_settings
from guichet.wiring import Stack

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CHATTY_LOGGERS = ("pika", "httpx", "botocore", "urllib3")  # their INFO lines would drown ours


def configure_logging(level: int = logging.INFO) -> None:
    """Masking first: a record created before it would reach the handlers unmasked."""
    install_log_masking()
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))


def start_process(level: int = logging.INFO) -> Settings:
    """Logging with masking, then the settings, read once for the life of the process."""
    configure_logging(level)
    return load_settings()


def watch_broker_queues(stack: Stack) -> None:
    """Queue depths read from the broker at scrape time, in every long-running process: the functions
    keep reporting a backlog while no worker runs (alert GuichetNoConsumer)."""
    metrics.watch_queues(stack.settings, lambda queue: stack.broker.depth(queue))
