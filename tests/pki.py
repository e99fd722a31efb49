"""A throw-away private CA and server certificate (cryptography), for tests that need real TLS.

tests/test_network.py serves the sandbox with it; tests/test_clients_sql.py serves a recording
server for databricks-sql-connector, which speaks only HTTPS.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Pki", "make_pki"]


@dataclass(frozen=True)
class Pki:
    ca: Path  # the bundle to pass with --ca-bundle
    other_ca: Path  # a CA that did not sign the server's certificate
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def _cert(subject: str, issuer: str, key: Any, signer: Any, *, ca: bool, sans: list[x509.GeneralName]) -> Any:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(cert: Any) -> bytes:
    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_pki(where: Path, *names: str) -> Pki:
    """A CA, an unrelated CA, and a server certificate for localhost, 127.0.0.1 and ``names``."""
    ca_key, other_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("scopedauth test CA", "scopedauth test CA", ca_key, ca_key, ca=True, sans=[])
    other = _cert("some other CA", "some other CA", other_key, other_key, ca=True, sans=[])
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        *(x509.DNSName(name) for name in names),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    leaf = _cert("sandbox", "scopedauth test CA", leaf_key, ca_key, ca=False, sans=sans)
    paths = Pki(where / "ca.pem", where / "other-ca.pem", where / "server.pem", where / "server.key")
    paths.ca.write_bytes(_pem(ca))
    paths.other_ca.write_bytes(_pem(other))
    paths.cert.write_bytes(_pem(leaf))
    paths.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths
