"""A local Entra login over HTTPS: the tenant's OpenID configuration and the client-credentials token endpoint.

MSAL refuses plain-http authorities, so the fake serves HTTPS with a certificate from a throwaway test CA;
the `entra` fixture points `requests` (which MSAL uses) and `ssl` at that CA for the test's duration.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.local_http import serve
from tests.teams_fake import TENANT


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint, whatever its outcome."""

    tenant: str
    grant_type: str
    client_id: str
    scope: str
    issued: str | None  # the access token handed out, if any


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_test_ca(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its PEM written to `folder`) and a server context whose leaf it signed, for 127.0.0.1 and localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Breachroom test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "test-ca.pem", folder / "entra.pem", folder / "entra.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem(leaf_key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context


class FakeEntra:
    """One tenant; `apps` maps its confidential apps' client ids to their secrets; `requests` lists token requests."""

    def __init__(self, tenant: str = TENANT) -> None:
        self.tenant = tenant
        self.apps: dict[str, str] = {}
        self.requests: list[TokenRequest] = []
        self.discoveries = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, context: ssl.SSLContext) -> FakeEntra:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner, self.url = await serve(app, context)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def issued(self, scope: str) -> list[str]:
        """The access tokens handed out for `scope`."""
        return [r.issued for r in self.requests if r.scope == scope and r.issued]

    async def _openid(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != self.tenant:
            return web.json_response({"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant "
                                      f"'{tenant}' not found."}, status=400)
        self.discoveries += 1
        base = f"{self.url}/{tenant}"
        return web.json_response({
            "issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize", "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        })

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant, client_id, scope = (str(form.get(k, "")) for k in ("grant_type", "client_id", "scope"))
        tenant = request.match_info["tenant"]
        refusal = self._refusal(tenant, grant, client_id, str(form.get("client_secret", "")), scope)
        if refusal:
            self.requests.append(TokenRequest(tenant, grant, client_id, scope, None))
            status, code, number, why = refusal
            # As Entra: a first line that says why, then trace lines.
            return web.json_response({"error": code, "error_codes": [number], "error_description":
                                      f"AADSTS{number}: {why}\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\n"
                                      "Timestamp: 2026-11-27 09:41:00Z"}, status=status)
        token = f"entra-token-{next(self._ids)}-{scope.split('/')[2]}"
        self.requests.append(TokenRequest(tenant, grant, client_id, scope, token))
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                  "access_token": token})

    def _refusal(self, tenant: str, grant: str, client_id: str, secret: str,
                 scope: str) -> tuple[int, str, int, str] | None:
        """Entra's answer to a bad request: status, error code, AADSTS number, reason."""
        if tenant != self.tenant:
            return 400, "invalid_request", 90002, f"Tenant '{tenant}' not found."
        if grant != "client_credentials":
            return 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        if client_id not in self.apps:
            return 400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
        if secret != self.apps[client_id]:
            return 401, "invalid_client", 7000215, ("Invalid client secret provided. Ensure the secret being sent in "
                                                    f"the request is the client secret value, for app '{client_id}'.")
        if not scope.endswith("/.default") or " " in scope:
            return 400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid."
        return None


@pytest.fixture
async def entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeEntra]:
    """The fake login, trusted by `requests` and `ssl` through the test CA for this test only."""
    ca_file, context = make_test_ca(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    fake = await FakeEntra().start(context)
    yield fake
    await fake.stop()
