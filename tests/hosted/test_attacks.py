"""An outside reviewer's attacks on the hosted mode, each pinned once it was fixed.

Each test names the attack; docs/hosted.md's guarantees are what they check.
"""

from __future__ import annotations

import pytest

from scopedauth.hosted.model import digest
from scopedauth.sandbox import Sandbox

from .conftest import Replica
from .webapp import Browser


@pytest.mark.parametrize("store_url", ["redis"], indirect=True)
def test_a_whole_session_hash_copied_under_another_key_serves_nobody(replica: Replica, sandbox: Sandbox) -> None:
    """Attack: with write access to Redis, copy Alice's whole session hash (its ``id_hash`` field,
    subject and ciphertext together) under Mallory's key. The ciphertext's associated data names
    the ``id_hash`` *field*, so it decrypted and Mallory's cookie was served Alice's token."""
    alice, mallory = Browser(), Browser()
    alice.sign_in(replica.url, sandbox)
    mallory.sign_in(replica.url, sandbox)
    alices_token = alice.get(replica.url + "/api/whoami").json()["token"]
    redis = replica.store.redis  # type: ignore[attr-defined]
    a_key = "scopedauth:s:" + digest(alice.cookies["scopedauth-session"])
    m_key = "scopedauth:s:" + digest(mallory.cookies["scopedauth-session"])
    redis.hset(m_key, mapping=redis.hgetall(a_key))
    answer = mallory.get(replica.url + "/api/whoami")
    assert answer.status_code == 401, answer.text
    assert alices_token not in answer.text
