"""The engine process's log lines: text for people, or one JSON object a line (`LOG_FORMAT=json`).

A JSON line carries the time, level, logger and message, and `run_id`, `function` and `event`
when the log call passes them as `extra`. The engine's keys (the signing key, raw, without its
prefix and hashed as the SDK sends it, and every event key) are replaced by `[redacted]` in every
line, whichever code wrote it: the engine logs no key on purpose, and a message a library builds
from a URL (`/e/{key}`) or a header cannot slip one in.
"""

import contextlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from engine.signing import hash_signing_key, strip_prefix

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "[redacted]"
CONTEXT_FIELDS = ("run_id", "function", "event")
# A shorter value would blank out ordinary words.
MIN_SECRET_LENGTH = 8


class Redactor:
    """Replaces the secrets it was given; more can be added once the configuration is read."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def hide(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        known = {*self._secrets, *(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)}
        self._secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def key_forms(signing_key: str | None, event_keys: Iterable[str]) -> list[str]:
    """Every form of the engine's keys that could appear in a line."""
    forms = list(event_keys)
    if signing_key:
        forms += [signing_key, strip_prefix(signing_key)]
        with contextlib.suppress(ValueError):  # not hex: the engine refuses it at start
            forms.append(hash_signing_key(signing_key))
    return forms


class TextFormatter(logging.Formatter):
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
        }
        for field in CONTEXT_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = self._redact(str(value))
        if record.exc_info:
            entry["exception"] = self._redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self._redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False)


REDACT = Redactor()


def handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `log_format` (`json`, else text) lines to `stream` (stderr by default)."""
    made = logging.StreamHandler(stream)
    made.setFormatter(JsonFormatter(REDACT) if log_format == "json" else TextFormatter(REDACT))
    return made


def configure(log_format: str, level: str) -> None:
    """The engine process's logging; `hide` adds its keys once its configuration is read."""
    logging.basicConfig(level=level.upper(), handlers=[handler(log_format)])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per SDK call is noise


def hide(signing_key: str | None, event_keys: Iterable[str]) -> None:
    REDACT.hide(key_forms(signing_key, event_keys))
