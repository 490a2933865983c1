"""Durations and timestamps as the Inngest wire formats write them."""

import math
import re
from datetime import UTC, datetime

_UNIT_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
# Past this, `now + duration` stops being a date anyone means, and soon a 64-bit column overflows.
MAX_DURATION_MS = 100 * 365 * 86_400_000


def parse_duration(text: str) -> int:
    """Milliseconds in a duration such as `90s`, `1h`, `2h45m` or `300ms`."""
    text = text.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. '30s', '5m', '1h30m'")
    if not math.isfinite(total) or total > MAX_DURATION_MS:
        raise ValueError(f"duration {text[:40]!r} is too long: at most 100 years")
    return int(total)


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 / ISO-8601 timestamp."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Python 3.11 parses at most microseconds; Go writes nanoseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+14:00, before year 1 in UTC
        raise ValueError(f"timestamp {text!r} is out of range") from exc


def format_timestamp(ms: int) -> str:
    """RFC 3339 in UTC with millisecond precision, as the Inngest API writes it."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
