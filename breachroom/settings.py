"""Configuration from the environment, checked once at start with one clear line per problem."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from bot.playbook import DEFAULT_PLAYBOOK, Playbook, PlaybookError, load_playbook
from storage import crypto
from storage.db import DatabaseUrlError, parse_url


class ConfigError(Exception):
    """A setting is missing or malformed; the message is the one line the operator reads."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///./breachroom.db"
    breachroom_playbook: Path | None = None
    breachroom_templates: Path | None = None
    # How often reminders are checked; the deadline cards are refreshed at least hourly whatever this is.
    breachroom_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How long a war-room build may go without progress before another process (a sweep) finishes it.
    breachroom_build_lease_seconds: float = Field(default=60.0, ge=1, le=600)
    # Teams. Unset app id: Teams off. Set but empty: the Bot Framework Emulator's local mode (no authentication),
    # so pydantic must keep "" apart from None here: no empty-is-unset validator on this one field.
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = "SingleTenant"
    graph_api_url: str = "https://graph.microsoft.com/v1.0"
    microsoft_login_url: str = "https://login.microsoftonline.com"
    botframework_openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    # Where Teams war rooms are opened: a private group chat (default) or a channel of TEAMS_TEAM_ID.
    teams_war_room: Literal["chat", "channel"] = "chat"
    teams_team_id: str | None = None
    # The Breachroom app's id in the organisation's app catalog; looked up by the manifest id when unset.
    teams_catalog_app_id: str | None = None
    teams_manifest_id: str | None = None
    # The address people reach this server at; download links (notice drafts, exports on Teams) start with it.
    breachroom_public_url: str | None = None
    # Required to serve the local console on anything but loopback; then every console request needs it.
    breachroom_console_token: str | None = None
    # Admins (bot/access.py): platform user ids, comma-separated (Slack `U…`, Teams `29:…`, console `web-…`). On Slack,
    # workspace admins and owners count too; on Teams and the console this list is the only way.
    breachroom_admins: str = ""
    # Fernet keys, comma-separated: the first encrypts the sensitive columns, every one decrypts. Validating it
    # configures storage.crypto for this process (every entry point builds its Settings before the database).
    breachroom_encryption_key: SecretStr | None = Field(default=None, validate_default=True)

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "breachroom_playbook",
                     "breachroom_templates", "microsoft_app_password", "microsoft_app_tenant_id", "teams_team_id",
                     "teams_catalog_app_id", "teams_manifest_id", "breachroom_public_url",
                     "breachroom_console_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("breachroom_encryption_key")
    @classmethod
    def _encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        try:
            crypto.configure(crypto.parse_keys(value.get_secret_value() if value else None))
        except crypto.KeyListError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("microsoft_app_id", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("microsoft_app_type", mode="before")
    @classmethod
    def _app_type(cls, value: object) -> object:
        known = {"singletenant": "SingleTenant", "multitenant": "MultiTenant", "userassignedmsi": "UserAssignedMSI"}
        if isinstance(value, str):
            if not value.strip():
                return "SingleTenant"
            if value.strip().lower() in known:
                return known[value.strip().lower()]
            raise ValueError(f"must be SingleTenant, MultiTenant or UserAssignedMSI, got {value!r}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as https://slack.com/api/, got {value!r}")
        return value.strip().rstrip("/") + "/"

    @field_validator("teams_war_room", mode="before")
    @classmethod
    def _war_room(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return "chat"
            if value.strip().lower() in ("chat", "channel"):
                return value.strip().lower()
            raise ValueError(f"must be chat (a private group chat) or channel (a channel of TEAMS_TEAM_ID), "
                             f"got {value!r}")
        return value

    @field_validator("graph_api_url", "microsoft_login_url", "botframework_openid_metadata_url",
                     "breachroom_public_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must be the Bot User OAuth Token, which starts with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token with connections:write, which starts with xapp-")
        return value

    def db_url(self) -> URL:
        try:
            return parse_url(self.database_url)
        except DatabaseUrlError as exc:
            raise ConfigError(f"DATABASE_URL {exc}") from None

    def playbook(self) -> Playbook:
        try:
            return load_playbook(self.breachroom_playbook or DEFAULT_PLAYBOOK)
        except PlaybookError as exc:
            raise ConfigError(f"BREACHROOM_PLAYBOOK: {exc}") from None

    def templates_dir(self) -> Path | None:
        """The business's own notice templates, if any; they override the built-in ones of the same name."""
        folder = self.breachroom_templates
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"BREACHROOM_TEMPLATES: {folder} is not a directory")
        return folder

    @property
    def slack_on(self) -> bool:
        """Any Slack setting means the operator wants Slack; a half-configured Slack is then an error."""
        return bool(self.slack_bot_token or self.slack_signing_secret or self.slack_app_token)

    @property
    def teams_on(self) -> bool:
        return self.microsoft_app_id is not None

    @property
    def teams_emulator(self) -> bool:
        """An empty app id: the Bot Framework Emulator's local mode, with authentication off."""
        return self.microsoft_app_id == ""

    @property
    def admins(self) -> frozenset[str]:
        """BREACHROOM_ADMINS as a set of user ids (spaces around commas ignored)."""
        return frozenset(a.strip() for a in self.breachroom_admins.split(",") if a.strip())

    def console_on(self, asked: bool = False) -> bool:
        """The local console runs when no chat platform is configured, or beside them when asked (--console)."""
        return asked or not (self.slack_on or self.teams_on)

    def require_platforms(self, host: str, console: bool = False) -> None:
        """Each platform `serve` serves must be fully configured; the console must not be open to the network."""
        if self.console_on(console) and not is_loopback(host) and not self.breachroom_console_token:
            raise ConfigError(
                f"BREACHROOM_CONSOLE_TOKEN is not set: the local console would be open to anyone who can reach "
                f"{host}; set a long random token (every visit then needs it), or serve on --host 127.0.0.1"
            )
        if self.slack_on:
            self.require_slack()
        if self.teams_on:
            self.require_teams(host)

    def require_teams(self, host: str) -> None:
        """Each app type needs its own settings; without an app id, only a loopback bind is safe."""
        if self.teams_war_room == "channel" and not self.teams_team_id:
            raise ConfigError(
                "TEAMS_WAR_ROOM is channel but TEAMS_TEAM_ID is not set: give the id of the team whose channels "
                "hold the war rooms (Get link to team in Teams; the groupId in that link)"
            )
        if self.teams_emulator:
            if not is_loopback(host):
                raise ConfigError(
                    f"MICROSOFT_APP_ID is empty, which turns Teams authentication off (the Bot Framework Emulator's "
                    f"local mode): serve on a loopback address such as --host 127.0.0.1, not {host}, "
                    "or set the app id of your Azure bot"
                )
            return
        app_type = self.microsoft_app_type
        if app_type != "UserAssignedMSI" and not self.microsoft_app_password:
            raise ConfigError(
                "MICROSOFT_APP_PASSWORD is not set: create a client secret for the app "
                "(MICROSOFT_APP_ID) under Certificates & secrets in the Azure portal"
            )
        if app_type != "MultiTenant" and not self.microsoft_app_tenant_id:
            raise ConfigError(
                f"MICROSOFT_APP_TENANT_ID is not set, and MICROSOFT_APP_TYPE is {app_type}: copy the Directory "
                "(tenant) ID from the app's Overview page in the Azure portal"
            )

    def require_slack(self) -> None:
        """Serving Slack needs a bot token, and over HTTP a signing secret too."""
        if not self.slack_bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your Slack app's "
                "OAuth & Permissions page"
            )
        if not self.slack_app_token and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy it from your Slack app's Basic Information page "
                "(or set SLACK_APP_TOKEN to use Socket Mode)"
            )


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def load() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name} {message}") from None
