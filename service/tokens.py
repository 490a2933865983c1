"""API tokens: minting one (its text is shown once), keeping only its SHA-256, finding its owner.

A token is `secrets.token_urlsafe(32)`: 256 random bits, so a plain SHA-256 is enough to keep it
(no salt or slow hash is needed against guessing, unlike for passwords). The database never holds
the text of a token, only `token_digest(token)`.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from service.models import ApiToken, Organization, utc_now

TOKEN_BYTES = 32
# Writing `last_used_at` on every request would turn each poll of the Jobs tab into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `token` is its text, which exists nowhere else once this is dropped."""

    token: str
    token_id: int
    name: str
    organization: str


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """The organization a presented token belongs to."""

    token_id: int
    organization_id: int
    organization: str


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, org: Organization, *, name: str) -> IssuedToken:
    """A new token of `org`."""
    assert org.id is not None
    token = new_token()
    row = ApiToken(organization_id=org.id, name=name, token_sha256=token_digest(token))
    session.add(row)
    session.flush()
    assert row.id is not None
    return IssuedToken(token=token, token_id=row.id, name=name, organization=org.slug)


def find_owner(session: Session, token: str, *, now: datetime | None = None) -> TokenOwner | None:
    """Whose `token` is, or None for an unknown one; notes when it was last used."""
    digest = token_digest(token)
    found = session.exec(
        select(ApiToken, Organization)
        .join(Organization, Organization.id == ApiToken.organization_id)  # type: ignore[arg-type]
        .where(ApiToken.token_sha256 == digest)
    ).first()
    # The lookup compares digests, which tell nothing about a token; comparing again in constant
    # time keeps the check independent of how the database compares strings.
    if found is None or not hmac.compare_digest(found[0].token_sha256, digest):
        return None
    row, org = found
    moment = now or utc_now()
    if row.last_used_at is None or moment - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = moment
        session.add(row)
    assert row.id is not None and org.id is not None
    return TokenOwner(token_id=row.id, organization_id=org.id, organization=org.slug)


def list_tokens(session: Session, org: Organization) -> list[ApiToken]:
    """`org`'s tokens, oldest first (their digests only: no token can be shown again)."""
    query = select(ApiToken).where(ApiToken.organization_id == org.id)
    return list(session.exec(query.order_by(ApiToken.id)))  # type: ignore[arg-type]


def revoke_token(session: Session, org: Organization, token_id: int) -> ApiToken | None:
    """Delete `org`'s token `token_id`, so it authenticates no more; None if it has no such."""
    row = session.get(ApiToken, token_id)
    if row is None or row.organization_id != org.id:
        return None
    session.delete(row)
    return row
