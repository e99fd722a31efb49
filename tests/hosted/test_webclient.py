"""The confidential client's requests, as a recording server sees them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scopedauth.config import Target
from scopedauth.hosted.keys import Keyring
from scopedauth.hosted.model import HostedStore
from scopedauth.hosted.refresh import Refresher
from scopedauth.hosted.webclient import WebClient

from ..localhttp import LocalOAuth


@pytest.fixture
def local() -> Iterator[LocalOAuth]:
    server = LocalOAuth()
    server.metadata()
    yield server
    server.close()


def test_code_exchange_sends_secret_and_verifier_in_the_form(local: LocalOAuth) -> None:
    client = WebClient(Target(local.url, "app-id", ("sql",)), "s3cret", "https://app.example.com/cb")
    token, _raw = client.exchange_code("the-code", "v" * 43)
    assert token.access_token == "eyJ.local"
    (form,) = local.token_posts
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://app.example.com/cb"],
        "code_verifier": ["v" * 43],
        "client_id": ["app-id"],
        "client_secret": ["s3cret"],
    }
    assert "s3cret" not in repr(client)


def test_the_refresh_timeout_fits_inside_the_lease(store: HostedStore, keys: Keyring, local: LocalOAuth) -> None:
    client = WebClient(Target(local.url, "app-id", ("sql",)), "s3cret", "https://app.example.com/cb")
    for lease in (3.0, 30.0, 120.0):
        connect, read = Refresher(store, keys, client, lease=lease).http_timeout
        assert connect + read < lease
