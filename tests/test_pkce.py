"""PKCE (RFC 7636) and ``state``: the spec vector, the verifier grammar, and the entropy."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest

from scopedauth.oauth import pkce

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
VERIFIER_GRAMMAR = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1, written out independently


def _decoded_bits(text: str) -> int:
    """Bits of randomness behind a base64url string without padding (decode it back)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text  # canonical, nothing hidden
    return 8 * len(raw)


# -- S256 -----------------------------------------------------------------------------------------


def test_rfc7636_appendix_b_vector() -> None:
    assert pkce.s256_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE


@pytest.mark.parametrize(
    "verifier",
    [
        RFC7636_VERIFIER,
        "a" * 43,
        "~" * 128,
        "A-._~" * 10,
        pkce.make_verifier(),
        pkce.make_verifier(32),
        pkce.make_verifier(96),
    ],
)
def test_challenge_is_unpadded_base64url_of_sha256(verifier: str) -> None:
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    challenge = pkce.s256_challenge(verifier)
    assert challenge == expected
    assert len(challenge) == 43
    assert "=" not in challenge
    assert set(challenge) <= pkce.UNRESERVED


@pytest.mark.parametrize(
    ("verifier", "why"),
    [
        ("a" * 42, "one character short"),
        ("a" * 129, "one character long"),
        ("", "empty"),
        ("a" * 42 + "+", "plain base64 '+'"),
        ("a" * 42 + "/", "plain base64 '/'"),
        ("a" * 42 + "=", "padding"),
        ("a" * 42 + " ", "space"),
        ("a" * 42 + "é", "non-ASCII"),
    ],
)
def test_challenge_refuses_verifiers_outside_rfc7636(verifier: str, why: str) -> None:
    with pytest.raises(ValueError, match="RFC 7636"):
        pkce.s256_challenge(verifier)


# -- verifier -------------------------------------------------------------------------------------


def test_unreserved_is_exactly_the_rfc3986_unreserved_set() -> None:
    expected = {chr(c) for c in range(128) if chr(c).isalnum()} | set("-._~")
    assert set(pkce.UNRESERVED) == expected
    assert len(pkce.UNRESERVED) == 66


@pytest.mark.parametrize(
    ("nbytes", "length"),
    [(32, 43), (33, 44), (48, 64), (64, 86), (95, 127), (96, 128)],
)
def test_verifier_length_follows_nbytes_inside_43_to_128(nbytes: int, length: int) -> None:
    verifier = pkce.make_verifier(nbytes)
    assert len(verifier) == length
    assert VERIFIER_GRAMMAR.fullmatch(verifier)
    assert set(verifier) <= pkce.UNRESERVED
    assert _decoded_bits(verifier) == 8 * nbytes


def test_default_verifier_is_valid_and_carries_at_least_256_bits() -> None:
    for _ in range(200):
        verifier = pkce.make_verifier()
        assert VERIFIER_GRAMMAR.fullmatch(verifier), verifier
        assert _decoded_bits(verifier) >= 256


@pytest.mark.parametrize(
    ("nbytes", "error"),
    [
        (31, ValueError),
        (97, ValueError),
        (0, ValueError),
        (-1, ValueError),
        (10**6, ValueError),
        (32.0, TypeError),
        ("64", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_bad_nbytes_raise(nbytes: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        pkce.make_verifier(nbytes)  # type: ignore[arg-type]


# -- state ----------------------------------------------------------------------------------------


def test_state_carries_at_least_128_bits_and_is_url_safe() -> None:
    for _ in range(200):
        state = pkce.make_state()
        assert _decoded_bits(state) >= 128
        assert set(state) <= pkce.UNRESERVED  # goes into a query string unescaped


# -- freshness ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [pkce.make_verifier, pkce.make_state, lambda: pkce.make_verifier(32)],
    ids=["verifier", "state", "verifier-32"],
)
def test_thousand_draws_are_distinct(draw: Callable[[], str]) -> None:
    values = [draw() for _ in range(1000)]
    assert len(set(values)) == 1000


def test_verifiers_and_challenges_do_not_collide() -> None:
    verifiers = [pkce.make_verifier() for _ in range(1000)]
    assert len({pkce.s256_challenge(v) for v in verifiers}) == 1000
