"""Outbound tokens from Entra (the "login") for the Bot Connector and Graph, and their plug into botbuilder.

botbuilder's own credentials build MSAL apps that validate the authority against login.microsoftonline.com,
so they cannot use any other login (a sovereign one we configure, or a local one in tests). Here one MSAL app
per process takes every token from `TeamsConfig.authority`, and MSAL's cache makes repeated calls free.

botbuilder's async connector client signs requests by calling `signed_session` on the event loop (only the
HTTP request itself goes to a thread), so a token fetched there would block the loop. Our credentials are
therefore also an msrest async pipeline policy: msrest then awaits them instead of calling `signed_session`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msrest.pipeline import AsyncHTTPPolicy

from adapters.teams.config import TeamsConfig

log = logging.getLogger(__name__)

CONNECTOR_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LOGIN_TIMEOUT = 15.0  # seconds; MSAL waits forever by default


class TokenError(Exception):
    """No token: `code` is Entra's error code (`invalid_client` …), or `unreachable` when the login is out of reach."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description


def default_scope(scope: str) -> str:
    """botbuilder names resources (`https://api.botframework.com`); Entra's client-credentials grant wants scopes."""
    return scope if scope.endswith("/.default") else f"{scope.rstrip('/')}/.default"


def _one_line(text: str, limit: int = 300) -> str:
    """Entra's descriptions run over several lines (trace and correlation ids): keep the first, which says why."""
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else ""


class EntraTokens:
    """The app's tokens for any scope; one per process, shared by the Bot Connector and Graph clients."""

    def __init__(self, config: TeamsConfig) -> None:
        self.config = config
        self._app: Any = None
        # One acquisition at a time: concurrent cache misses would each ask Entra for the same token.
        self._lock = threading.Lock()

    async def token(self, scope: str) -> str:
        """A valid access token for `scope`; MSAL may need the network, so this runs in a thread."""
        return await asyncio.to_thread(self.token_blocking, scope)

    def token_blocking(self, scope: str) -> str:
        """The same for botbuilder's synchronous callers (`signed_session`, `get_access_token`): never on the loop."""
        scope = default_scope(scope)
        with self._lock:
            try:
                result = self._acquire(scope)
            except requests.RequestException as exc:
                error = TokenError("unreachable", f"{self._login_host()}: {type(exc).__name__}")
            except Exception as exc:  # MSAL raises ValueError (discovery refused), RuntimeError, its own errors …
                error = TokenError("login_error", f"{type(exc).__name__}: {_one_line(str(exc))}")
            else:
                if "access_token" in result:
                    return str(result["access_token"])
                code = str(result.get("error") or "no_token")
                error = TokenError(code, _one_line(result.get("error_description", "")))
        log.warning("Entra: no token for %s from %s (app %s): %s", scope, self._login_host(), self.config.app_id, error)
        raise error

    def _acquire(self, scope: str) -> dict[str, Any]:
        if self.config.app_type == "UserAssignedMSI":
            # Managed identities take a resource, not a scope, and have no secret.
            return self._client().acquire_token_for_client(resource=scope.removesuffix("/.default"))
        return self._client().acquire_token_for_client(scopes=[scope])

    def _client(self) -> Any:
        """Built on first use: MSAL fetches the tenant's OpenID configuration when the app is created."""
        if self._app is None:
            if self.config.app_type == "UserAssignedMSI":
                self._app = msal.ManagedIdentityClient(
                    msal.UserAssignedManagedIdentity(client_id=self.config.app_id), http_client=requests.Session())
            else:
                self._app = msal.ConfidentialClientApplication(
                    client_id=self.config.app_id, client_credential=self.config.app_password,
                    authority=self.config.authority, instance_discovery=False, timeout=LOGIN_TIMEOUT,
                )
        return self._app

    def _login_host(self) -> str:
        return urlsplit(self.config.authority).netloc


class EntraCredentials(AppCredentials, AsyncHTTPPolicy):  # type: ignore[misc]
    """Bearer tokens from EntraTokens for one connector client (msrest chains policies, so one per client)."""

    def __init__(self, tokens: EntraTokens, app_id: str, oauth_scope: str) -> None:
        AppCredentials.__init__(self, app_id=app_id, channel_auth_tenant=tokens.config.tenant_id,
                                oauth_scope=oauth_scope)
        AsyncHTTPPolicy.__init__(self)
        self.oauth_endpoint = tokens.config.authority
        self.tokens = tokens

    def _signs(self) -> bool:
        """As botbuilder: no token without an app id, nor for an anonymous skill."""
        return bool(self.microsoft_app_id) and self.microsoft_app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID

    async def send(self, request: Any, **kwargs: Any) -> Any:
        """The async connector's pipeline step: the token is awaited, off the event loop."""
        if self._signs():
            request.http_request.headers["Authorization"] = f"Bearer {await self.tokens.token(self.oauth_scope)}"
        return await self.next.send(request, **kwargs)  # type: ignore[union-attr]

    def get_access_token(self, force_refresh: bool = False) -> str:
        """For botbuilder's synchronous clients (`signed_session`, skills); blocks while a token is fetched."""
        return self.tokens.token_blocking(self.oauth_scope)


class EntraCredentialsFactory(ServiceClientCredentialsFactory):
    """What botbuilder asks for credentials; behaves as its password factory, but with our tokens."""

    def __init__(self, tokens: EntraTokens, config: TeamsConfig) -> None:
        self.tokens = tokens
        self.app_id = config.app_id

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        """`login_endpoint` is `config.authority` already (see TeamsConfig.botbuilder), so it is not read again."""
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()  # sends no Authorization header, as botbuilder does
        if not await self.is_valid_app_id(app_id):
            raise PermissionError(f"credentials asked for another app id ({app_id})")
        return EntraCredentials(self.tokens, app_id, oauth_scope or CONNECTOR_SCOPE)
