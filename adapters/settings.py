"""newsbot's settings: ``NEWSBOT_*`` environment variables and an optional ``.env`` file.

``Settings`` is every setting with its default, type and check; ``load_settings`` reads them
and stops with one line naming a bad variable. ``bot.py`` (the composition root) wires the
bot from them and re-exports both; ``bot.py env-example`` writes ``.env.example`` from the
class itself (``adapters/cli/envfile.py``), so the comments above each field are its notes.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from adapters.i18n import checked_speech_setting

__all__ = ["ADMIN_TOKEN_MIN", "Settings", "load_settings"]


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


ADMIN_TOKEN_MIN = 32


class Settings(BaseSettings):
    """Configuration from ``NEWSBOT_*`` environment variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", env_file=".env", extra="ignore", validate_default=True
    )

    # An SQLite file's path, or a PostgreSQL URL (postgresql://user@host:port/db).
    database: str = "newsbot.db"
    # FULL: a commit is on disk before newsbot acts on it (a post recorded as sent, a comment
    # acknowledged). NORMAL is faster but a power loss or a failing disk can undo commits.
    sqlite_synchronous: str = Field("FULL", pattern=r"(?i)^(NORMAL|FULL|EXTRA)$")
    public_url: str = ""
    # The site's, posts' and answers' language (en, de, uk: newsbot/locale) and time zone.
    language: str = "en"
    timezone: str = "UTC"
    log_level: str = Field("INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_admins: Annotated[frozenset[str], NoDecode] = frozenset()

    discord_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    # The servers whose Manage Server / Manage Channels count as newsbot rights and whose
    # members' commands are taken; discord_guild is the older single-server form (both count).
    discord_guilds: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_guild: int | None = None
    # Posts of articles this recent have their reaction counts read back at each ready
    discord_reaction_days: float = Field(7.0, ge=0, le=366)
    # Web sign-in (adapters/web/signin.py), anonymous comments, staff (telegram:ID,discord:ID)
    telegram_login_bot: str = Field("", pattern=r"^@?[A-Za-z0-9_]{0,32}$")
    discord_client_id: str = Field("", pattern=r"^[0-9]{0,20}$")
    discord_client_secret: SecretStr | None = None
    web_anonymous: bool = True
    staff: str = Field(
        "", pattern=r"^((telegram|discord):[0-9]+)?(,\s*(telegram|discord):[0-9]+)*$"
    )
    staff_chat: str = Field("", pattern=r"^(telegram:-?[0-9]+|discord:[0-9]+)?$")

    # The site: its name, a line about it, a logo's address, an accent colour (#rrggbb, at
    # least 4.5:1 on white), the footer's text and links ("About=https://…,Contact=mailto:…"),
    # and a folder of template and static overrides (docs/web.md, Theming).
    site_name: str = "News"
    site_description: str = ""
    site_logo: str = ""
    site_accent: str = ""
    site_footer: str = ""
    site_footer_links: str = ""
    web_theme_dir: str = ""
    web: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    # Serve the site on this Unix socket instead of TCP, for a reverse proxy on this machine:
    # only who may open the file (its mode: owner and group) can connect, and is believed.
    web_unix_socket: str = ""
    web_unix_socket_mode: int = 0o660
    web_admin_token: SecretStr | None = None
    # Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names
    # the client; the header is ignored from any other peer.
    web_trust_proxy: Annotated[tuple[str, ...], NoDecode] = ()
    # Slowloris: seconds a connection may take to send its request headers (and stay idle
    # between requests) and then its body, the most connections open at once, and the most
    # from one client address (an IPv6 /64; trusted proxies count only towards the total).
    web_header_timeout: float = Field(10.0, gt=0, le=300)
    web_body_timeout: float = Field(30.0, gt=0, le=3600)
    web_max_connections: int = Field(1000, ge=1, le=1_000_000)
    web_max_connections_per_client: int = Field(50, ge=1, le=1_000_000)
    # Public pages' Cache-Control: seconds browsers (max-age) and shared caches (s-maxage)
    # reuse a page, and may serve it stale while refreshing it.
    web_max_age: int = Field(5, ge=0, le=86400)
    web_s_maxage: int = Field(10, ge=0, le=86400)
    web_stale: int = Field(30, ge=0, le=86400)
    web_reactions: str = Field("👍 ❤️ 😂 😮 😢", min_length=1)  # offered on pages, space-separated
    # /metrics and /healthz on an address of their own (then not on the site): set the port.
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(None, ge=0, le=65535)

    mirror: bool = True
    mirror_delay: float = Field(0.0, ge=0, le=86400)
    # Who may subscribe a chat: "approval" (a chat admin's request waits for a newsbot admin)
    # or "open" (any chat admin).
    subscriptions: Literal["approval", "open"] = "approval"
    # Comments per minute; over that they are stored hidden and not mirrored. 0: no limit.
    comments_per_author: int = Field(5, ge=0)
    comments_per_chat: int = Field(60, ge=0)
    # The moderation desk: a file of words that hold a comment (one a line), holding each
    # author's first comment, and how many readers' reports hide a comment (0: never).
    moderation_words: str = ""
    hold_first_comments: bool = False
    reports_to_hide: int = Field(3, ge=0)
    comments_policy: Literal["open", "premoderated", "closed"] = "open"  # stories without one
    comments_close_after: float = Field(0, ge=0)  # days after publishing; 0: never

    # Several workers on one database: each process's id (unique per process by default),
    # how long a platform's role lasts without renewal (a dead holder is replaced that long
    # after its last renewal), and how long a claimed delivery stays claimed.
    worker_id: str = ""
    role_lease: float = Field(5.0, ge=3.0, le=60.0)
    claim_lease: float = Field(30.0, ge=5.0, le=600.0)

    # Following sites' feeds: fetch loopback, private and link-local addresses too (tests,
    # an intranet CMS), and how many feeds are fetched at a time.
    feeds_allow_private: bool = False
    feeds_concurrency: int = Field(16, ge=1, le=256)

    @field_validator(
        "telegram_token",
        "discord_token",
        "telegram_api_url",
        "discord_client_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("language", "timezone")
    @classmethod
    def _speech(cls, value: str, info: ValidationInfo) -> str:
        return checked_speech_setting(str(info.field_name), value)

    @field_validator("database", mode="before")
    @classmethod
    def _path_is_text(cls, value: object) -> object:
        # A library user may pass a pathlib.Path for the SQLite file.
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("web_admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and len(text) < ADMIN_TOKEN_MIN:
            raise ValueError(
                f"must be at least {ADMIN_TOKEN_MIN} characters (it is {len(text)}); "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("web_unix_socket")
    @classmethod
    def _unix_socket(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value and info.data.get("web", True) and not info.data.get("public_url"):
            raise ValueError(
                "set NEWSBOT_PUBLIC_URL too (the address your reverse proxy serves): links "
                "to articles cannot point at a Unix socket"
            )
        return value

    @field_validator("web_unix_socket_mode", mode="before")
    @classmethod
    def _socket_mode(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().lower().removeprefix("0o")
            if not text or any(c not in "01234567" for c in text):
                raise ValueError("must be octal permissions, e.g. 660")
            value = int(text, 8)
        if isinstance(value, int) and not 0 <= value <= 0o777:
            raise ValueError("must be octal permissions between 000 and 777, e.g. 660")
        if isinstance(value, int) and value & 0o002:
            raise ValueError(
                "must not let every local user connect (no write bit for others): whoever "
                "connects is believed as the proxy. Keep 660 and add the proxy's user to "
                "newsbot's group"
            )
        return value

    @field_validator("ops_port", mode="before")
    @classmethod
    def _optional_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("web_trust_proxy", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):
            parts = tuple(part.strip() for part in value.split(",") if part.strip())
            for part in parts:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part!r} is not an IP address or CIDR range; name the reverse "
                        "proxies, comma-separated (e.g. 127.0.0.1 or 10.0.0.0/8)"
                    ) from None
            return parts
        return value

    @field_validator("telegram_admins", "discord_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object, info: ValidationInfo) -> object:
        ids = _split_ids(value)
        # ASCII digits only: a username would silently make nobody an admin.
        bad = sorted(
            i
            for i in (ids if isinstance(ids, frozenset | set | list | tuple) else ())
            if isinstance(i, str) and not (i.isascii() and i.isdigit())
        )
        if bad:
            if info.field_name == "telegram_admins":
                where = "Telegram user ids; send /start to the bot in private to see yours"
            else:
                where = "Discord user ids; in Developer Mode, right click a user, Copy User ID"
            raise ValueError(f"must be {where} (digits, separated by commas), not {bad[0][:40]!r}")
        return ids

    @field_validator("discord_guilds", "discord_guild", mode="before")
    @classmethod
    def _server_ids(cls, value: object, info: ValidationInfo) -> object:
        # ASCII digits only: int() would also take other scripts' digits ("١٢").
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() for part in parts):
            raise ValueError("must be Discord server ids (digits), separated by commas")
        if info.field_name == "discord_guild":
            if len(parts) > 1:
                raise ValueError("one server id; name several in NEWSBOT_DISCORD_GUILDS")
            return int(parts[0]) if parts else None
        return frozenset(int(part) for part in parts)

    @property
    def discord_guild_ids(self) -> frozenset[int]:
        """Every named Discord server: NEWSBOT_DISCORD_GUILDS and NEWSBOT_DISCORD_GUILD."""
        single = frozenset() if self.discord_guild is None else {self.discord_guild}
        return self.discord_guilds | single

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def site_url(self) -> str:
        """Where article pages live: ``public_url``, or the local web server's address."""
        return self.public_url or f"http://{self.web_host}:{self.web_port}"

    def secrets(self) -> list[str]:
        """Every secret value, for redaction from logs."""
        found = [
            s.get_secret_value()
            for s in (self.telegram_token, self.discord_token, self.web_admin_token)
            if s is not None and s.get_secret_value()
        ]
        if self.discord_client_secret is not None:
            found.append(self.discord_client_secret.get_secret_value())
        # Any database URL's password (only PostgreSQL's have one): no scheme check needed.
        password = urlsplit(self.database.strip()).password
        if password:
            found.append(password)
        return found


def load_settings(**overrides: Any) -> Settings:
    """Read settings; on a bad value, print one line naming the variable and exit with 2."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            name = "NEWSBOT_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"newsbot: configuration error: {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
