"""The keyring: kid:base64 parsing fails at construction, AES-GCM is bound to its row."""

from __future__ import annotations

import base64

import pytest

from scopedauth.errors import ConfigError, StorageError
from scopedauth.hosted.keys import KEYS_ENV, Keyring, associated_data, generate_key

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (None, KEYS_ENV),
        ("", KEYS_ENV),
        ("   ", KEYS_ENV),
        ("nokid", "kid:base64"),
        (f":{KEY}", "kid:base64"),
        (f"bad kid:{KEY}", "kid:base64"),
        ("k1:not base64!", "base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "5 bytes"),
        (f"k1:{KEY},k1:{KEY}", "twice"),
        (f"k1:{KEY},", "kid:base64"),
        (f"k1\n:{KEY}", "kid:base64"),  # `$` alone would let a trailing newline into the key id
    ],
)
def test_bad_keyrings_fail_at_construction(spec: str | None, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        Keyring(spec)
    assert KEY not in str(info.value)


def test_from_env_reads_the_variable() -> None:
    ring = Keyring.from_env({KEYS_ENV: f"a:{KEY}"})
    assert ring.kids == ("a",)
    with pytest.raises(ConfigError):
        Keyring.from_env({})


def test_first_key_encrypts_every_key_decrypts() -> None:
    old = generate_key("old")
    new = generate_key("new")
    aad = associated_data("row", "tenant", "subject", "client")
    kid, blob = Keyring(old).encrypt(b"secret", aad)
    assert kid == "old"
    both = Keyring(f"{new},{old}")
    assert both.primary == "new"
    assert both.decrypt(kid, blob, aad) == b"secret"
    assert both.encrypt(b"secret", aad)[0] == "new"
    with pytest.raises(StorageError, match="not in the keyring"):
        Keyring(new).decrypt(kid, blob, aad)


def test_ciphertext_is_bound_to_its_row() -> None:
    ring = Keyring(generate_key())
    kid, blob = ring.encrypt(b"secret", associated_data("row1", "t", "alice", "c"))
    for other in (("row2", "t", "alice", "c"), ("row1", "t2", "alice", "c"), ("row1", "t", "bob", "c")):
        with pytest.raises(StorageError, match="failed authentication"):
            ring.decrypt(kid, blob, associated_data(*other))
    tampered = base64.b64encode(bytes([base64.b64decode(blob)[0] ^ 1]) + base64.b64decode(blob)[1:]).decode()
    with pytest.raises(StorageError):
        ring.decrypt(kid, tampered, associated_data("row1", "t", "alice", "c"))


def test_nonces_differ_and_repr_hides_keys() -> None:
    spec = generate_key("k")
    ring = Keyring(spec)
    aad = associated_data("x")
    assert ring.encrypt(b"same", aad) != ring.encrypt(b"same", aad)
    assert spec.split(":")[1] not in repr(ring)
    assert repr(ring) == "Keyring(kids=['k'])"


def test_generate_key_checks_the_kid() -> None:
    assert Keyring(generate_key()).primary.startswith("k")
    for bad in ("no spaces", "k1\n"):
        with pytest.raises(ConfigError):
            generate_key(bad)
