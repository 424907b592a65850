"""Keeping secrets out of log lines: URLs are logged without their query strings.

Tokens belong in the Authorization header, but a client may put one in a query string
(``?token=...``), and uvicorn's access log writes every request line. ``RedactQueryStrings``
replaces the query of every URL or path in a record (uvicorn's access records by their path
argument, any other record by its formatted message) with ``?<redacted>``. It is installed on
the handlers of every process that logs (``offbatch serve``, ``worker``, the task runtime), so
records of any library pass through it.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from typing import Any

REDACTED = "?<redacted>"
# A URL (scheme://...) or an absolute path, then a non-empty query string.
_URL_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://|/)[^\s?#\"'<>]*)\?[^\s#\"'<>]+")


def redact_queries(text: str) -> str:
    """``text`` with the query string of every URL or path replaced by ``?<redacted>``."""
    if "?" not in text:
        return text
    return _URL_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactQueryStrings(logging.Filter):
    """A handler filter that strips query strings from every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client_addr, method, full_path, http_version, status_code), and its
        # formatter reads them by position, so the record keeps its shape.
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            record.args = (args[0], args[1], _redact_path(args[2]), args[3], args[4])
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: the handler reports it, as logging does
            return True
        redacted = redact_queries(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact_path(path: object) -> object:
    if isinstance(path, str) and "?" in path:
        return path.split("?", 1)[0] + REDACTED
    return path


def configure_logging(*, fmt: str, level: int = logging.INFO) -> None:
    """``logging.basicConfig`` to stderr, with query strings redacted on its handler."""
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactQueryStrings) for f in handler.filters):
            handler.addFilter(RedactQueryStrings())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config, with query strings redacted on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query_strings"] = {"()": RedactQueryStrings}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact_query_strings"]
    return config
