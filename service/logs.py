"""Log lines: the people's format by default, one JSON object a line with `LOG_FORMAT=json`.

A JSON line carries the time, level, logger and message, and the context of the work it is about:
`job_id`, `run_id`, `repository` and `delivery_id`, from context variables bound where each
becomes known (the webhook, an Inngest function's call, a router procedure that names a job).
Work that several callers share (a batch of database rows or event sends) runs in a context of
its own, so its lines never carry one caller's ids.

Every configured secret (API keys, signing and event keys, tokens, the database password) is
replaced by `[redacted]` in every line, whichever code wrote it: the code logs no secret on
purpose, and a message a library builds from a URL or an error body cannot slip one in.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import unquote, urlsplit

from service.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "[redacted]"
# A shorter value (a placeholder key for a server that takes none) would blank out ordinary words.
MIN_SECRET_LENGTH = 8

_context: ContextVar[Mapping[str, str | int] | None] = ContextVar("log_context", default=None)


def bind(
    *,
    job_id: int | None = None,
    run_id: str | None = None,
    repository: str | None = None,
    delivery_id: str | None = None,
) -> None:
    """Add what is given to the context of every line logged from here on in this task (and in
    the tasks and threads it starts)."""
    fields = {
        "job_id": job_id,
        "run_id": run_id,
        "repository": repository,
        "delivery_id": delivery_id,
    }
    known = {name: value for name, value in fields.items() if value is not None}
    _context.set({**(_context.get() or {}), **known})


def context() -> Mapping[str, str | int]:
    return _context.get() or {}


def secrets_of(settings: Settings) -> list[str]:
    """The secret values the settings hold."""
    values = [
        settings.openai_api_key,
        settings.inngest_signing_key,
        settings.inngest_event_key,
        settings.qdrant_api_key,
        settings.github_token,
        settings.github_app_private_key,
        *_database_password(settings.database_url),
    ]
    return [value for value in values if value and len(value) >= MIN_SECRET_LENGTH]


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class TextFormatter(logging.Formatter):
    """Today's format for people, secrets redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for a log pipeline."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
            **context(),
        }
        if record.exc_info:
            entry["exception"] = self._redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self._redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `settings.log_format` lines to `stream` (stderr by default)."""
    made = logging.StreamHandler(stream)
    redact = Redactor(secrets_of(settings))
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    made.setFormatter(formatter(redact))
    return made


def configure(settings: Settings) -> None:
    """The process's logging, unless something (a test runner) has configured it already."""
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler(settings)])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per SDK call is noise


def _database_password(url: str | None) -> list[str]:
    """The password in DATABASE_URL, as written and decoded."""
    try:
        password = urlsplit(url or "").password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []
