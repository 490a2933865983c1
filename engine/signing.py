"""Signed mode: the engine's signing key and event keys, and the HMAC rules that use them.

The rules of self-hosted `inngest start` and inngest-py 0.5.19 (inngest-protocol.md §5):

- a call to an app carries `X-Inngest-Signature: t=<unix seconds>&s=<hex>`, the HMAC-SHA256 of
  the JCS-canonical (RFC 8785) body followed by `t`, keyed with the signing key's text without
  its `signkey-<env>-` prefix (the SDK canonicalises what it receives before checking, so the body
  is sent as in unsigned mode and only its canonical form is signed);
- the app signs its answer the same way, over the raw body, with no JCS; an answer signed more than
  five minutes before the call was sent is a replay (Go `signatureTimeDeltaMax`);
- the REST API and app sync take the signing key as `Authorization: Bearer <key>`, raw or as the
  SDK sends it, sha256 of the hex-decoded key, with the prefix stripped from both sides
  (Go pkg/authn HandleSigningKey);
- `POST /e/{key}` takes only one of the event keys.

Comparisons are constant-time, and no key or signature appears in a message.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

import jcs  # type: ignore[import-untyped]

SIGNATURE_HEADER = "x-inngest-signature"
_PREFIX = re.compile(r"^signkey-\w+-")
_BEARER = "bearer "
ANSWER_MAX_AGE_S = 5 * 60


class SigningKeyError(ValueError):
    """A signing key that cannot be used; the message names the key, never its value."""


def strip_prefix(key: str) -> str:
    """The key without its human-readable `signkey-<env>-` prefix."""
    return _PREFIX.sub("", key.strip(), count=1)


def hash_signing_key(key: str) -> str:
    """What the SDK sends as its bearer token: sha256 of the hex-decoded key, prefix removed."""
    return hashlib.sha256(bytes.fromhex(strip_prefix(key))).hexdigest()


class Signer:
    """Signs the engine's calls and checks what holds the signing key: answers and bearers."""

    def __init__(self, signing_key: str) -> None:
        key = strip_prefix(signing_key)
        # `inngest start` refuses the same keys: the SDK hex-decodes the key to hash its bearer.
        try:
            hashed = hash_signing_key(key)
        except ValueError:
            hashed = ""
        if not hashed or not key:
            raise SigningKeyError(
                "the signing key must be a hex string with an even number of digits,"
                " optionally after a signkey-<env>- prefix"
            )
        self._key = key.encode()
        self._bearers = (key.encode(), hashed.encode())

    def sign_request(self, body: Any, now_s: int | None = None) -> str:
        """The signature header of a call whose JSON body is `body`."""
        return self._signature(jcs.canonicalize(body), now_s)

    def sign_bytes(self, content: bytes, now_s: int | None = None) -> str:
        """The signature header of raw bytes, as the SDK signs its answers."""
        return self._signature(content, now_s)

    def verify_answer(self, content: bytes, header: str | None) -> bool:
        """Whether `header` is this key's signature of `content` (an app's raw answer)."""
        stamp = signed_at(header)
        signature = parse_qs(header or "").get("s", [""])[0]
        if stamp is None or not signature:
            return False
        expected = self._mac(content, stamp)
        return hmac.compare_digest(signature.encode(), expected.encode())

    def bearer_matches(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries the signing key, raw or hashed."""
        if not authorization or authorization[: len(_BEARER)].lower() != _BEARER:
            return False
        token = strip_prefix(authorization[len(_BEARER) :]).encode()
        matches = False
        for accepted in self._bearers:  # both compared, so the time says nothing of which
            matches |= hmac.compare_digest(token, accepted)
        return matches

    def _signature(self, message: bytes, now_s: int | None) -> str:
        stamp = int(time.time()) if now_s is None else now_s  # wall time: the app checks it
        return f"t={stamp}&s={self._mac(message, stamp)}"

    def _mac(self, message: bytes, stamp: int) -> str:
        return hmac.new(self._key, message + str(stamp).encode(), hashlib.sha256).hexdigest()


def signed_at(header: str | None) -> int | None:
    """The unix time a signature header says it was made at; None if it says none."""
    stamp = parse_qs(header or "").get("t", [""])[0]
    return int(stamp) if stamp.isdigit() else None


def is_event_key(given: str, keys: Sequence[str]) -> bool:
    """Whether `given` is one of `keys`, compared in constant time."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found
