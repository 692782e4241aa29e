"""A local test certificate authority and the sandbox's server certificate (via ``trustme``).

Clients trust the sandbox through the CA's PEM file (``SSL_CERT_FILE`` or an explicit CA
setting); there is never an "insecure" switch.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

CA_FILE_NAME = "sandbox-ca.pem"
CA_KEY_FILE_NAME = "sandbox-ca-key.pem"
SERVER_IDENTITIES = ("127.0.0.1", "localhost", "::1")


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner can read (created 0600, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)  # the file may have existed with other permissions


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """The CA (its PEM on disk for clients) and the server's certificate, in memory."""

    ca_file: Path
    ca: Any  # trustme.CA (untyped library)
    server_cert: Any  # trustme.LeafCert

    def server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.server_cert.configure_cert(context)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def create_tls_material(directory: Path, *, keep_ca: bool = False) -> TlsMaterial:
    """Make (or, with ``keep_ca``, reuse) a CA in ``directory`` and issue a server certificate
    for 127.0.0.1, localhost and ::1.

    ``keep_ca`` also stores the CA's private key (0600) so a restarted sandbox keeps the CA a
    developer has already trusted; without it the key exists only in memory.
    """
    ca_file = directory / CA_FILE_NAME
    key_file = directory / CA_KEY_FILE_NAME
    if keep_ca and ca_file.exists() and key_file.exists():
        ca = trustme.CA.from_pem(ca_file.read_bytes(), key_file.read_bytes())
    else:
        ca = trustme.CA(organization_name="cdconnect sandbox")
        write_private_file(ca_file, ca.cert_pem.bytes())
        if keep_ca:
            write_private_file(key_file, ca.private_key_pem.bytes())
    server_cert = ca.issue_cert(*SERVER_IDENTITIES, common_name="cdconnect sandbox")
    return TlsMaterial(ca_file=ca_file, ca=ca, server_cert=server_cert)
