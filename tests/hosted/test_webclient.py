"""The confidential client's requests, as a recording server sees them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scopedauth.config import Target
from scopedauth.errors import InvalidGrantError
from scopedauth.hosted.keys import Keyring
from scopedauth.hosted.model import HostedStore
from scopedauth.hosted.refresh import Refresher, open_token
from scopedauth.hosted.webclient import WebClient
from scopedauth.sandbox import Sandbox

from ..localhttp import LocalOAuth
from .conftest import Replica
from .webapp import Browser


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


def test_sandbox_web_client_rotates_and_revokes_the_family_on_reuse(replica: Replica, sandbox: Sandbox) -> None:
    """The sandbox plays a confidential app integration as Databricks does: rotation, reuse → revoked."""
    Browser().sign_in(replica.url, sandbox)
    token = open_token(replica.keys, replica.only_row())
    client = replica.auth.service.client
    rotated = client.refresh(token, (5.0, 10.0))
    assert rotated.refresh_token and rotated.refresh_token != token.refresh_token
    with pytest.raises(InvalidGrantError, match="reuse"):
        client.refresh(token, (5.0, 10.0))  # the spent refresh token again
    assert sandbox.stats.family_revocations == 1
    with pytest.raises(InvalidGrantError):
        client.refresh(rotated, (5.0, 10.0))  # the whole family is gone
