"""What the Teams adapter is configured with, read from the settings once at start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botframework.connector.auth import AuthenticationConstants

BOTFRAMEWORK_TENANT = AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT


@dataclass(frozen=True)
class TeamsConfig:
    """What the adapter needs; an empty `app_id` turns authentication off (the Emulator's local mode)."""

    app_id: str
    app_password: str | None = None
    tenant_id: str | None = None
    app_type: str = "SingleTenant"
    login_url: str = "https://login.microsoftonline.com"
    openid_metadata_url: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    graph_url: str = "https://graph.microsoft.com/v1.0"
    war_room: str = "chat"
    team_id: str | None = None
    catalog_app_id: str | None = None
    manifest_id: str | None = None
    public_url: str | None = None

    @property
    def emulator(self) -> bool:
        return not self.app_id

    @property
    def authority(self) -> str:
        """Where outbound tokens come from: the tenant's own authority for single-tenant bots."""
        tenant = self.tenant_id if self.app_type == "SingleTenant" and self.tenant_id else BOTFRAMEWORK_TENANT
        return f"{self.login_url}/{tenant}"

    def botbuilder(self) -> Any:
        """The configuration object `ConfigurationBotFrameworkAuthentication` reads by attribute name.

        Setting any endpoint selects botframework-connector's parameterized authentication, which then
        needs all of them: the login authority for outbound tokens (the tenant's own for single-tenant
        bots), the OpenID metadata for Bot Connector tokens and for Entra-issued (Emulator) ones.
        """
        emulator = not self.app_id
        values = {
            "APP_ID": self.app_id,
            "APP_PASSWORD": self.app_password or "",
            # botbuilder's SingleTenant factory refuses an empty app id; without one nothing is signed anyway.
            "APP_TYPE": "MultiTenant" if emulator else self.app_type,
            "APP_TENANTID": self.tenant_id or "",
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": self.authority,
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            "OAUTH_URL": AuthenticationConstants.OAUTH_URL,
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": self.openid_metadata_url,
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL":
                f"{self.login_url}/common/v2.0/.well-known/openid-configuration",
            "VALIDATE_AUTHORITY": True,
        }
        return type("BotbuilderConfig", (), values)()
