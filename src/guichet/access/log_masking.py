"""No personal identifier in a log line: every record is masked (personal_data.mask) when it is created.

Installed once at the process edge (cli._logging) as the record factory, so that it covers every logger
of the process: ours, and uvicorn's access log, whose request paths carry /v1/search?q=… URL-encoded.
Questions are already masked on submission; this catches what reaches a log some other way (an
exception message quoting its input, a query string).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from guichet.access import personal_data

_FORMATTER = logging.Formatter()
_MARK = "_guichet_masks_personal_data"


def mask_text(text: str) -> str:
    masked = personal_data.mask(text)
    if "%" in text or "+" in text:  # a URL or a query string: identifiers hide behind %20, %40, +
        decoded = unquote_plus(text)
        masked_decoded = personal_data.mask(decoded)
        if masked_decoded != decoded:
            return masked_decoded
    return masked


def _mask_arg(value: object) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, int | float):
        return value
    for shown in (str(value), repr(value)):  # %s or %r: whichever would show an identifier
        masked = mask_text(shown)
        if masked != shown:
            return masked
    return value


def mask_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_mask_arg(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _mask_arg(v) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text: the traceback's messages are masked once, here.
        record.exc_text = mask_text(_FORMATTER.formatException(record.exc_info))


def install_log_masking() -> None:
    """Idempotent: a second call leaves the factory as it is."""
    current = logging.getLogRecordFactory()
    if getattr(current, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        mask_record(record)
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
