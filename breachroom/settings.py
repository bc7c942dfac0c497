"""Configuration from the environment, checked once at start with one clear line per problem."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from bot.playbook import DEFAULT_PLAYBOOK, Playbook, PlaybookError, load_playbook
from storage.db import DatabaseUrlError, parse_url


class ConfigError(Exception):
    """A setting is missing or malformed; the message is the one line the operator reads."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///./breachroom.db"
    breachroom_playbook: Path | None = None
    breachroom_templates: Path | None = None
    # How often reminders are checked; the deadline cards are refreshed at least hourly whatever this is.
    breachroom_tick_seconds: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "breachroom_playbook",
                     "breachroom_templates", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as https://slack.com/api/, got {value!r}")
        return value.strip().rstrip("/") + "/"

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


def load() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name} {message}") from None
