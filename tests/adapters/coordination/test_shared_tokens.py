"""Access tokens shared through Redis (fakeredis here; the replica suite uses a real server): sealed at rest,
named by a keyed hash, fenced against a slow replica, forgotten only when it is the refused token."""

from __future__ import annotations

import fakeredis
import pytest

from adapters.coordination.redis_tokens import RedisSharedTokens, Sealer

STATE_KEY = "k" * 16 + "-state-key-for-tests-only"
GRANT = ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com", "refresh_token", "client-id",
         "refresh-SECRET-value", "client-SECRET")
TOKEN = "00Dxx!ACCESS-TOKEN-VALUE"


@pytest.fixture
def client():
    return fakeredis.FakeRedis()


def stored_text(client) -> str:
    dump = []
    for key in client.keys("*"):
        dump.append(key.decode())
        if client.type(key) == b"hash":
            dump += [repr(v) for v in client.hgetall(key).values()]
        else:
            dump.append(repr(client.get(key)))
    return "\n".join(dump)


def test_a_token_is_shared_but_never_stored_in_the_clear(client):
    first, second = RedisSharedTokens(client, STATE_KEY), RedisSharedTokens(client, STATE_KEY)
    lease = first.lease(GRANT, 60, None)
    assert first.write(GRANT, TOKEN, lease, 3600)
    assert second.read(GRANT) == TOKEN  # another replica, same state key
    text = stored_text(client)
    for secret in (TOKEN, "ACCESS-TOKEN", "refresh-SECRET", "client-SECRET", "acme"):
        assert secret not in text
    assert RedisSharedTokens(client, "another-state-key-of-32-characters!").read(GRANT) is None


def test_a_slow_replica_cannot_overwrite_a_newer_token(client):
    shared = RedisSharedTokens(client, STATE_KEY)
    slow = shared.lease(GRANT, 0.01, None)
    fresh = shared.lease(GRANT, 60, None)  # granted once the slow holder's lease expired
    assert fresh.fence > slow.fence
    assert shared.write(GRANT, "newer-token", fresh, 3600)
    assert not shared.write(GRANT, "older-token", slow, 3600)
    assert shared.read(GRANT) == "newer-token"


def test_forget_drops_only_the_refused_token(client):
    shared = RedisSharedTokens(client, STATE_KEY)
    assert shared.write(GRANT, "renewed", shared.lease(GRANT, 60, None), 3600)
    shared.forget(GRANT, "the-old-one")  # a replica refused an older token: the renewed one stays
    assert shared.read(GRANT) == "renewed"
    shared.forget(GRANT, "renewed")
    assert shared.read(GRANT) is None


def test_a_sealed_value_opens_only_under_its_key_and_its_name():
    sealer = Sealer(STATE_KEY)
    sealed = sealer.seal(TOKEN, "sfdest:token:a")
    assert TOKEN.encode() not in sealed
    assert sealer.open(sealed, "sfdest:token:a") == TOKEN
    assert sealer.open(sealed, "sfdest:token:b") is None  # moved to another entry: refused
    assert sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "sfdest:token:a") is None  # tampered with
    with pytest.raises(ValueError):
        Sealer("too-short")
