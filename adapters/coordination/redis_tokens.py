"""RedisSharedTokens: access tokens shared by replicas through Redis, sealed with AES-GCM.

SFDEST_STATE_KEY (any string of 32+ characters, the same on every replica) is stretched with HKDF-SHA256
into two keys: one seals each token (AES-256-GCM, a fresh 96-bit nonce per write, the Redis key as
associated data so a sealed value moved to another key does not open), the other keys entries by an HMAC of
the grant's identity, so Redis holds neither a token nor a secret nor a usable hash of one.

An entry is a hash {fence, sealed, digest}: `fence` is the fencing number of the lease under which the
token was requested, and a write with an older fence is refused, so a slow replica never overwrites a newer
token; `digest` (an HMAC of the token) lets `forget` drop exactly the token Salesforce refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import Any

from adapters.coordination.redis_leases import RedisKeyLeases, call
from core.coordination import Lease

MIN_STATE_KEY_LENGTH = 32
# A rotated refresh token is kept this long after its last rotation (hosts pick it up from ApplyResponse).
ROTATION_SECONDS = 30 * 86_400.0
_NONCE = 12

_WRITE = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < stored then return 0 end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'sealed', ARGV[2], 'digest', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
_FORGET = """
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'sealed', '', 'digest', '')
  return 1
end
return 0
"""


def _derive(secret: str, purpose: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sfdest-state-v1", info=purpose).derive(secret.encode())


class Sealer:
    """AES-256-GCM sealing and HMAC naming under keys derived from SFDEST_STATE_KEY."""

    def __init__(self, secret: str):
        if len(secret) < MIN_STATE_KEY_LENGTH:
            raise ValueError(f"the state key must be at least {MIN_STATE_KEY_LENGTH} characters")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(_derive(secret, b"seal"))
        self._mac = _derive(secret, b"name")

    def name(self, *parts: str) -> str:
        mac = hmac.new(self._mac, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part.encode("utf-8", "surrogatepass") + b"\x00")
        return mac.hexdigest()

    def seal(self, value: str, where: str) -> bytes:
        return self.seal_bytes(value.encode(), where)

    def seal_bytes(self, value: bytes, where: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, value, where.encode())

    def open(self, sealed: bytes, where: str) -> str | None:
        """The value, or None when it does not open under this key (another state key, or tampered with)."""
        opened = self.open_bytes(sealed, where)
        try:
            return opened.decode() if opened is not None else None
        except ValueError:
            return None

    def open_bytes(self, sealed: bytes, where: str) -> bytes | None:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], where.encode())
        except (InvalidTag, ValueError):
            return None


class RedisSharedTokens:
    """core.coordination.SharedTokens on Redis; `client` is a redis.Redis (or fakeredis) instance."""

    def __init__(self, client: Any, state_key: str, command_seconds: float = 2.0):
        self._client = client
        self._sealer = Sealer(state_key)
        self._leases = RedisKeyLeases(client, command_seconds)
        self._write = client.register_script(_WRITE)
        self._forget = client.register_script(_FORGET)

    def _key(self, identity: Sequence[str]) -> str:
        return "sfdest:token:" + self._sealer.name(*identity)

    def read(self, identity: Sequence[str]) -> str | None:
        key = self._key(identity)
        sealed = call(self._client.hget, key, "sealed")
        return self._sealer.open(sealed, key) if sealed else None

    def lease(self, identity: Sequence[str], ttl_seconds: float, wait_until: float | None) -> Lease | None:
        return self._leases.acquire(self._key(identity) + ":refresh", ttl_seconds, wait_until)

    def write(self, identity: Sequence[str], token: str, lease: Lease, ttl_seconds: float) -> bool:
        key = self._key(identity)
        args = [lease.fence, self._sealer.seal(token, key), self._sealer.name(token), max(1, int(ttl_seconds * 1000))]
        return bool(call(self._write, keys=[key], args=args))

    def release(self, lease: Lease) -> None:
        self._leases.release(lease)

    def forget(self, identity: Sequence[str], token: str) -> None:
        call(self._forget, keys=[self._key(identity)], args=[self._sealer.name(token)])

    def rotation(self, identity: Sequence[str]) -> str | None:
        key = "sfdest:rotated:" + self._sealer.name(*identity)
        sealed = call(self._client.get, key)
        return self._sealer.open(sealed, key) if sealed else None

    def rotate(self, identity: Sequence[str], refresh_token: str) -> None:
        key = "sfdest:rotated:" + self._sealer.name(*identity)
        call(self._client.set, key, self._sealer.seal(refresh_token, key), px=int(ROTATION_SECONDS * 1000))
