"""Partners, their API keys, and the audit log: the contract every catalog backend fulfils.

A key is ``dck_<key id>_<secret>``: the key id (12 hex digits) is public and names the key
in listings, revocation and the audit log; the secret is 32 random bytes (256 bits). Only
``sha256(secret)`` is stored. A fast hash is enough *because* the secret is high-entropy
random data, not a password: nobody can brute-force 2^256 candidates, so the slowness of
bcrypt/argon2 would buy nothing and cost milliseconds on every request. Presented secrets
are compared with `hmac.compare_digest` (constant time).

Nothing is cached: every request looks its key up, so a revoked key or a disabled partner
fails on the very next request, in every worker process, with no restart.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from datacenter.access import Viewer
from datacenter.errors import InvalidRequest, Unauthorized

Role = Literal["partner", "admin"]
KEY_PREFIX = "dck"
_KEY = re.compile(r"^dck_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
PARTNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `secret_text` is shown once and never stored."""

    key_id: str
    secret_text: str
    partner_id: str | None
    role: Role


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    enabled: bool
    created: datetime
    active_keys: tuple[str, ...]


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    partner_id: str | None
    role: Role
    digest: str
    revoked: bool
    partner_enabled: bool


def new_key(partner_id: str | None, role: Role) -> tuple[IssuedKey, str]:
    """A fresh key and the digest to store."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", partner_id, role), digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_partner_id(partner_id: str) -> str:
    if not PARTNER_ID.match(partner_id):
        raise InvalidRequest(
            f"partner id {partner_id!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. ROSCOSMOS, ESA, CNSA)"
        )
    return partner_id


#: job limits a partner may have of its own (`PartnerStore.limits`); a limit it does not
#: have is the settings' default (``DATACENTER_PARTNER_<NAME>``, `api.subset.quotas`)
LIMIT_NAMES = ("concurrent_jobs", "queued_jobs", "job_bytes", "daily_bytes")


def check_limits(limits: dict[str, int | None]) -> dict[str, int | None]:
    unknown = sorted(set(limits) - set(LIMIT_NAMES))
    if unknown:
        raise InvalidRequest(f"unknown partner limit(s) {', '.join(unknown)}; known: {', '.join(LIMIT_NAMES)}")
    bad = [f"{k}={v}" for k, v in limits.items() if v is not None and (not isinstance(v, int) or v < 0)]
    if bad:
        raise InvalidRequest(f"partner limits must be whole numbers >= 0: {', '.join(bad)}")
    return limits


_BAD_KEY = (
    "the API key is not valid (unknown, revoked, or its partner is disabled); "
    "send a current key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>', or none to browse "
    "public records"
)


class PartnerStore(abc.ABC):
    """Partners and keys. Implementations look keys up on every call (no caching)."""

    @abc.abstractmethod
    def add_partner(self, partner_id: str, name: str | None = None) -> IssuedKey:
        """Register a partner and issue its first key; `Conflict` if the id is taken."""

    @abc.abstractmethod
    def list_partners(self) -> list[Partner]:
        """Every partner, by id."""

    @abc.abstractmethod
    def rotate_key(self, partner_id: str) -> IssuedKey:
        """Issue a new key and revoke the partner's other keys; `NotFound` if no such partner."""

    @abc.abstractmethod
    def revoke_key(self, key_id: str) -> None:
        """Revoke one key (partner or admin); `NotFound` if no such key."""

    @abc.abstractmethod
    def disable_partner(self, partner_id: str) -> None:
        """Disable a partner: all its keys stop working; `NotFound` if no such partner."""

    @abc.abstractmethod
    def create_admin_key(self) -> IssuedKey:
        """Issue a key with the admin role (no partner; sees and may change everything)."""

    @abc.abstractmethod
    def find_key(self, key_id: str) -> KeyRecord | None:
        """The stored record of `key_id`, or None."""

    @abc.abstractmethod
    def limits(self, partner_id: str) -> dict[str, int]:
        """The job limits set for this partner (names of `LIMIT_NAMES`; absent: the default)."""

    @abc.abstractmethod
    def set_limits(self, partner_id: str, limits: dict[str, int | None]) -> dict[str, int]:
        """Set (a number) or clear (None) limits of a partner; returns its limits now.
        `NotFound` if no such partner, `InvalidRequest` for an unknown name or a bad value."""

    def note_success(self, key_id: str) -> None:  # noqa: B027 - optional for a store
        """Record that `key_id` authenticated just now, for every process and replica."""

    def succeeded_since(self, key_id: str, since: datetime) -> bool:
        """Whether `key_id` authenticated (`note_success`) at or after `since`, in any process."""
        return False

    def known_key(self, presented: str, since: datetime) -> bool:
        """Whether `presented` is valid now and authenticated at or after `since` somewhere:
        what lets a partner's key through a lockout that another process raised."""
        match = _KEY.match(presented.strip())
        if match is None or not self.succeeded_since(match[1], since):
            return False
        try:
            self.authenticate(presented)
        except Unauthorized:
            return False
        return True

    def authenticate(self, presented: str) -> Viewer:
        """The viewer a presented key stands for; `Unauthorized` for anything not valid now."""
        match = _KEY.match(presented.strip())
        record = self.find_key(match[1]) if match else None
        # compare even when the key is unknown, so both paths cost one digest + compare
        ok = hmac.compare_digest(
            digest(match[2] if match else presented), record.digest if record else "0" * 64
        )
        if record is None or not ok or record.revoked or not record.partner_enabled:
            raise Unauthorized(_BAD_KEY)
        if record.role == "admin":
            return Viewer(admin=True, key_id=record.key_id)
        return Viewer(partner_id=record.partner_id, key_id=record.key_id)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
