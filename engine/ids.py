"""ULIDs: sortable, time-prefixed ids for events and runs."""

import os
import threading

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def new_ulid(now_ms: int) -> str:
    """Return a ULID for `now_ms`, strictly increasing within this process."""
    global _last_ms, _last_rand
    with _lock:
        if now_ms <= _last_ms:
            now_ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = now_ms, rand
    value = (now_ms << 80) | (rand & ((1 << 80) - 1))
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def ulid_ms(ulid: str) -> int:
    """The millisecond timestamp a ULID was made at."""
    value = 0
    for char in ulid[:10].upper():
        value = value * 32 + _ALPHABET.index(char)
    return value


def is_ulid(text: str) -> bool:
    """Whether `text` is a ULID as Inngest parses one: 26 Crockford base-32 characters (any
    case) whose value fits in 128 bits."""
    return (
        len(text) == 26
        and text[0] in "01234567"
        and all(char in _ALPHABET for char in text.upper())
    )
