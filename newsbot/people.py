"""Readers as people: a person and the platform accounts that prove who they are (pure).

A *person* is one reader with one or more linked *accounts*: a Telegram user, a Discord user,
or a web identity. An account is linked only on proof that the person holds it: a sign-in the
platform vouches for (the Telegram Login Widget's signed data, Discord's OAuth2 answer), or a
one-time code handed out in a private chat with the bot and entered by a person signed in on
the web. This module holds the data and the rules that need no I/O (the Telegram login check,
link codes, the web author id of a signed-in commenter); ``newsbot.identity`` the use cases.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NewType

from newsbot.errors import InvalidInput, PermissionDenied
from newsbot.i18n import N_
from newsbot.models import Platform
from newsbot.text import clean_name

PersonId = NewType("PersonId", int)

ACCOUNT_PLATFORMS = (Platform.TELEGRAM, Platform.DISCORD, Platform.WEB)
"""The platforms a person's account may live on."""
SIGNED_IN = "@"
"""Between the vouching platform and its account id in a signed-in web commenter's user id
(``telegram@123``): a form no anonymous web identity (``w:...``) nor typed name can take."""
LOGIN_MAX_AGE = timedelta(days=1)
"""How old a Telegram login (its ``auth_date``) may be."""
LINK_CODE_TTL = timedelta(minutes=10)
"""How long a one-time link code is valid."""
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
_CODE_LENGTH = 8


class Proof(StrEnum):
    """What vouched for an account when it was linked."""

    TELEGRAM_LOGIN = "telegram-login"
    DISCORD_OAUTH = "discord-oauth"
    LINK_CODE = "link-code"
    TELEGRAM_CHAT = "telegram-chat"  # /start signin-TOKEN in a private chat (no JavaScript)
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Account:
    """One platform account of a person.

    Attributes:
        platform: ``telegram``, ``discord`` or ``web``.
        account_id: the platform's user id (digits on Telegram and Discord).
        name: the display name the platform gave at the last proof.
        verified_by: what proved the person holds it (a ``Proof`` value).
        linked_at: when it was linked (UTC).
    """

    platform: Platform
    account_id: str
    name: str
    verified_by: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    """A reader with the accounts linked to them.

    Attributes:
        id: the person's id.
        accounts: the linked accounts, in the order they were linked.
        banned: the person may not comment anywhere nor sign in.
        notify: replies to their comments are sent to them in a private message.
        created_at: when the person was first seen (UTC).
    """

    id: PersonId
    accounts: tuple[Account, ...]
    banned: bool
    notify: bool
    created_at: datetime

    @property
    def name(self) -> str:
        """The name shown for the person: their latest-linked account's."""
        return self.accounts[-1].name if self.accounts else f"person {self.id}"

    def account(self, platform: Platform) -> Account | None:
        """Their account on ``platform`` (the first linked), if any."""
        return next((a for a in self.accounts if a.platform is platform), None)


@dataclass(frozen=True, slots=True)
class Proven:
    """An account a platform just vouched for: who it is and what it is called there."""

    platform: Platform
    account_id: str
    name: str
    proof: Proof


def web_author_id(account: Proven | Account) -> str:
    """The web ``user_id`` of a comment written by someone signed in with ``account``
    (``telegram@123``): bans and the comment's vouching platform key on it."""
    return f"{account.platform}{SIGNED_IN}{account.account_id}"


def vouched_by(author_user_id: str) -> Platform | None:
    """The platform that vouches for a web comment's author, from its ``user_id``; ``None``
    for an anonymous commenter."""
    platform, sep, account_id = author_user_id.partition(SIGNED_IN)
    if not sep or not account_id:
        return None
    if platform == Platform.TELEGRAM:
        return Platform.TELEGRAM
    if platform == Platform.DISCORD:
        return Platform.DISCORD
    return None


def valid_account_id(platform: Platform, account_id: str) -> str:
    """``account_id`` checked for ``platform`` (digits on Telegram and Discord).

    Raises:
        InvalidInput: the platform takes no accounts or the id is malformed.
    """
    account_id = account_id.strip()
    if platform not in ACCOUNT_PLATFORMS:
        raise InvalidInput(
            N_("%(platform)s accounts cannot be linked."), field="platform", platform=platform
        )
    if platform is Platform.WEB:
        ok = 0 < len(account_id) <= 128
    else:
        ok = account_id.isascii() and account_id.isdigit() and len(account_id) <= 20
    if not ok:
        raise InvalidInput(N_("The account id is empty or malformed."), field="account_id")
    return account_id


def telegram_login(
    fields: Mapping[str, str], bot_token: str, now: datetime, max_age: timedelta = LOGIN_MAX_AGE
) -> Proven:
    """Check the Telegram Login Widget's data as Telegram documents it.

    The data-check-string is every field but ``hash``, as ``key=value`` sorted by key and
    joined by newlines; its HMAC-SHA-256 under the SHA-256 of the bot token must equal
    ``hash``, and ``auth_date`` must be at most ``max_age`` old (and not in the future, past
    a minute of clock skew). The caller refuses replays (``login_nonce``).

    Raises:
        PermissionDenied: the hash does not match, or the login is stale.
        InvalidInput: a field is missing or malformed.
    """
    given = fields.get("hash", "")
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "hash")
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(expected, given.lower()):
        raise PermissionDenied(N_("The Telegram login could not be verified."))
    try:
        auth_date = int(fields["auth_date"])
        user_id = valid_account_id(Platform.TELEGRAM, fields["id"])
    except (KeyError, ValueError) as exc:
        raise InvalidInput(N_("The Telegram login is incomplete.")) from exc
    age = now.timestamp() - auth_date
    if age > max_age.total_seconds() or age < -60:
        raise PermissionDenied(N_("The Telegram login has expired; please sign in again."))
    name = " ".join(
        part for part in (fields.get("first_name", ""), fields.get("last_name", "")) if part
    )
    name = clean_name(name) or clean_name(fields.get("username", "")) or f"user {user_id}"
    return Proven(Platform.TELEGRAM, user_id, name, Proof.TELEGRAM_LOGIN)


def login_nonce(fields: Mapping[str, str]) -> str:
    """The key under which a Telegram login is remembered so it is accepted once."""
    return "tglogin:" + fields.get("hash", "").lower()


def login_expiry(fields: Mapping[str, str], max_age: timedelta = LOGIN_MAX_AGE) -> datetime:
    """Until when a verified Telegram login must be remembered: it is stale after that."""
    return datetime.fromtimestamp(int(fields["auth_date"]), UTC) + max_age


CHAT_SIGN_IN_TTL = timedelta(minutes=10)
"""How long a sign-in through a private chat with the bot may take."""
_SIGN_IN_PAYLOAD = "signin-"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def sign_in_secret() -> str:
    """A browser's secret for a sign-in through the bot (kept in its cookie only)."""
    return secrets.token_urlsafe(32)


def sign_in_token(secret: str) -> str:
    """The public half of a browser's ``secret``: what the link to the bot carries. A hash,
    so whoever sees the link (or the ``/start`` message) cannot finish the sign-in."""
    digest = hashlib.sha256(b"newsbot chat sign-in\0" + secret.encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()  # 32 characters of [A-Za-z0-9_-]


def sign_in_start(token: str) -> str:
    """The ``/start`` parameter of the link to the bot (``t.me/BOT?start=...``, 64 at most)."""
    return _SIGN_IN_PAYLOAD + token


def sign_in_payload(parameter: str) -> str | None:
    """The token a ``/start`` parameter carries, or ``None`` when it is not a sign-in."""
    token = parameter.removeprefix(_SIGN_IN_PAYLOAD)
    if token == parameter or len(token) != 32 or not set(token) <= _TOKEN_CHARS:
        return None
    return token


def new_link_code() -> str:
    """A one-time link code: 8 characters of an unambiguous alphabet (40 bits)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


def link_code_key(code: str) -> str:
    """The store key of a link code, as typed (case, spaces and dashes ignored)."""
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(normal) != _CODE_LENGTH or any(ch not in _CODE_ALPHABET for ch in normal):
        raise InvalidInput(N_("That is not a link code."), field="code")
    return "link:" + normal


def encode_account(account: Proven) -> str:
    """A proven account as a token value (``link_code``'s payload)."""
    return "\t".join((str(account.platform), account.account_id, account.name, account.proof))


def decode_account(value: str) -> Proven:
    """The proven account ``encode_account`` wrote."""
    platform, account_id, name, proof = value.split("\t", 3)
    return Proven(Platform(platform), account_id, name, Proof(proof))
