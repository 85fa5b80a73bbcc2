"""The people use cases: signing in, linking accounts, and moderation that follows a person.

``IdentityService`` is the core's service object for people (``NewsService.people``);
adapters call it, never the store. What proves an account is the adapter's to check with the
platform (``newsbot.people.telegram_login`` for the Login Widget, an OAuth2 exchange for
Discord, a private chat with the bot for ``/link``); what follows from a proof is decided
here once:

- Signing in with an account links it to the person already signed in in that browser (both
  proofs are in hand), merging two persons when each already held one of the accounts.
- A one-time code given in a private chat (or on the web) links the account that asked for it
  to the person who enters it on the other side, within ``LINK_CODE_TTL``.
- A banned person cannot sign in nor link; banning a person bans each linked account with the
  author bans of ``newsbot.moderation`` (so the intake drops their chat replies) and the web
  author id each sign-in gives (``people.web_author_id``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from newsbot import moderation
from newsbot.comments import Host, delete
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.i18n import N_
from newsbot.models import Actor, Comment, Platform
from newsbot.people import (
    CHAT_SIGN_IN_TTL,
    LINK_CODE_TTL,
    SIGNED_IN,
    Account,
    Person,
    PersonId,
    Proof,
    Proven,
    decode_account,
    encode_account,
    link_code_key,
    login_expiry,
    login_nonce,
    new_link_code,
    sign_in_token,
    telegram_login,
    valid_account_id,
    vouched_by,
    web_author_id,
)

log = logging.getLogger("newsbot.service")

BANNED = N_("You can no longer comment here.")
LINKED = N_("Linked. Your accounts: %(accounts)s.")
"""What a reader is told after linking an account in a chat."""
LINK_TRIES = 5
"""Link codes one person (or chat account) may try per ``LINK_CODE_TTL``."""
_PERSON_CODE = "person\t"
DELETED_USER = "deleted user"
"""The author name of a forgotten person's comments kept (``forget``)."""
FORGOTTEN = "forgotten"


CHAT_SIGN_IN_EXPIRED = "This sign-in link has expired or was used; please start again."


def _waiting(token: str) -> str:
    return f"chatsign:{token}"


def _proven(token: str) -> str:
    return f"chatsign-proven:{token}"


def author_keys(person: Person) -> tuple[tuple[Platform, str], ...]:
    """Every ``(platform, user_id)`` a person's comments carry: each account, and the web
    author id of each account they can sign in with."""
    keys: list[tuple[Platform, str]] = []
    for account in person.accounts:
        keys.append((account.platform, account.account_id))
        if account.platform in (Platform.TELEGRAM, Platform.DISCORD):
            keys.append((Platform.WEB, web_author_id(account)))
    return tuple(keys)


class IdentityService:
    """Persons and their accounts, for every adapter (``NewsService.people``)."""

    def __init__(self, svc: Host) -> None:
        self._svc = svc

    # -- reading --------------------------------------------------------------------------

    async def person(self, person_id: PersonId) -> Person:
        """A person by id.

        Raises:
            NotFound: no such person.
        """
        person = await self._svc.store.get_person(person_id)
        if person is None:
            raise NotFound(f"There is no person {person_id}.")
        return person

    async def current(self, person_id: PersonId) -> Person | None:
        """A person by id, or ``None`` (a session naming a person forgotten or merged)."""
        return await self._svc.store.get_person(person_id)

    async def find(self, platform: Platform, account_id: str) -> Person | None:
        """The person an account is linked to, if any."""
        return await self._svc.store.person_by_account(platform, account_id)

    async def people(self, limit: int = 50, after: PersonId | None = None) -> list[Person]:
        """People by id, ``limit`` at most, after ``after``."""
        return await self._svc.store.list_people(max(1, min(limit, 500)), after)

    async def comments(self, person: Person) -> list[Comment]:
        """Every visible comment of a person, on every platform, oldest first."""
        found: list[Comment] = []
        for platform, user_id in author_keys(person):
            found += await self._svc.store.comments_by_author(platform, user_id)
        return sorted(found, key=lambda c: (c.created_at, c.id))

    # -- signing in and linking -----------------------------------------------------------

    async def sign_in(self, proven: Proven, signed_in: PersonId | None = None) -> Person:
        """Sign a reader in with an account a platform just vouched for.

        ``signed_in`` is the person this browser is signed in as already: the account is
        linked to them (and a person who held it is merged into them). Returns the person.

        Raises:
            PermissionDenied: the person (either one, when two meet) is banned.
        """
        valid_account_id(proven.platform, proven.account_id)
        holder = await self.find(proven.platform, proven.account_id)
        current = await self._svc.store.get_person(signed_in) if signed_in is not None else None
        for person in (holder, current):
            if person is not None and person.banned:
                log.info("sign-in refused: banned", extra={"person_id": person.id})
                raise PermissionDenied(BANNED)
        person = await self._link(proven, current)
        log.info(
            "signed in",
            extra={"person_id": person.id, "platform": str(proven.platform), "by": proven.proof},
        )
        return person

    async def telegram_sign_in(
        self, fields: Mapping[str, str], bot_token: str, signed_in: PersonId | None = None
    ) -> tuple[Person, Proven]:
        """Sign in with the Telegram Login Widget's data (``people.telegram_login``), once:
        the same data again, from any worker, is refused until it is stale anyway.

        Raises:
            PermissionDenied: forged, stale or replayed data, or a banned person.
            InvalidInput: a field is missing.
        """
        now = self._svc.clock.now()
        proven = telegram_login(fields, bot_token, now)
        if not await self._svc.store.put_token(login_nonce(fields), "", login_expiry(fields), now):
            log.info("sign-in refused: replayed", extra={"account_id": proven.account_id})
            raise PermissionDenied(N_("This sign-in was used already; please sign in again."))
        return await self.sign_in(proven, signed_in), proven

    async def begin_flow(self, key: str, value: str, ttl: timedelta) -> None:
        """Keep what a sign-in in progress needs (an OAuth state's PKCE verifier) for
        ``ttl``, for whichever worker the reader comes back to."""
        now = self._svc.clock.now()
        if not await self._svc.store.put_token(f"flow:{key}", value, now + ttl, now):
            raise InvalidInput(N_("This sign-in is under way already."))

    async def finish_flow(self, key: str) -> str | None:
        """Take what ``begin_flow`` kept, once; ``None`` when unknown, used or expired."""
        return await self._svc.store.take_token(f"flow:{key}", self._svc.clock.now())

    async def _link(self, proven: Proven, current: Person | None) -> Person:
        store, now = self._svc.store, self._svc.clock.now()
        account = Account(proven.platform, proven.account_id, proven.name, proven.proof, now)
        person = await store.link_account(account, current.id if current else None)
        if current is not None and person.id != current.id:
            merged = await store.merge_people(current.id, person.id)
            if merged is None:  # pragma: no cover - the current person was forgotten meanwhile
                raise NotFound(N_("Your sign-in has ended; please sign in again."))
            log.info("people merged", extra={"into": current.id, "from": person.id})
            person = merged
        return person

    async def chat_link_code(self, proven: Proven) -> str:
        """A one-time code for a chat account (``/link`` in a private chat with the bot),
        to enter on the web while signed in.

        Raises:
            PermissionDenied: the account's person is banned.
        """
        valid_account_id(proven.platform, proven.account_id)
        holder = await self.find(proven.platform, proven.account_id)
        if holder is not None and holder.banned:
            raise PermissionDenied(BANNED)
        proven = Proven(proven.platform, proven.account_id, proven.name, Proof.LINK_CODE)
        return await self._new_code(encode_account(proven))

    async def web_link_code(self, person_id: PersonId) -> str:
        """A one-time code for a person signed in on the web, to send the bot in a private
        chat (``/link CODE``)."""
        person = await self.person(person_id)
        if person.banned:
            raise PermissionDenied(BANNED)
        return await self._new_code(f"{_PERSON_CODE}{person.id}")

    async def _new_code(self, value: str) -> str:
        now = self._svc.clock.now()
        while True:
            code = new_link_code()
            if await self._svc.store.put_token(
                link_code_key(code), value, now + LINK_CODE_TTL, now
            ):
                return code

    async def redeem_on_web(self, person_id: PersonId, code: str) -> Person:
        """Link the chat account that asked for ``code`` to a person signed in on the web.

        Raises:
            InvalidInput: the code is unknown, used, expired, or not a chat's.
            PermissionDenied: too many tries, or a person involved is banned.
        """
        await self._try(f"person:{person_id}")
        value = await self._take(code)
        if value.startswith(_PERSON_CODE):
            raise InvalidInput(
                N_("Send this code to the bot in a private chat instead."), field="code"
            )
        return await self.sign_in(decode_account(value), person_id)

    async def redeem_in_chat(self, proven: Proven, code: str) -> Person:
        """Link a chat account (``/link CODE`` in a private chat) to the person signed in on
        the web who asked for ``code``.

        Raises:
            InvalidInput: the code is unknown, used, expired, or not the web's.
            PermissionDenied: too many tries, or a person involved is banned.
        """
        await self._try(f"{proven.platform}:{proven.account_id}")
        value = await self._take(code)
        if not value.startswith(_PERSON_CODE):
            raise InvalidInput(N_("Enter this code on the web page instead."), field="code")
        person_id = PersonId(int(value.removeprefix(_PERSON_CODE)))
        proven = Proven(proven.platform, proven.account_id, proven.name, Proof.LINK_CODE)
        return await self.sign_in(proven, person_id)

    # -- signing in through a private chat with the bot (no JavaScript) -------------------

    async def begin_chat_sign_in(self, secret: str) -> str:
        """Start a sign-in for the browser holding ``secret`` (``people.sign_in_secret``);
        returns the token its link to the bot carries (``/start signin-TOKEN``), valid for
        ``CHAT_SIGN_IN_TTL``.

        Raises:
            InvalidInput: this secret has started a sign-in already.
        """
        now = self._svc.clock.now()
        token, expires = sign_in_token(secret), now + CHAT_SIGN_IN_TTL
        if not await self._svc.store.put_token(_waiting(token), expires.isoformat(), expires, now):
            raise InvalidInput("This sign-in is under way already.")
        return token

    async def prove_chat_sign_in(self, token: str, proven: Proven) -> None:
        """The holder of ``proven`` (a private chat with the bot) sent ``/start`` with
        ``token``: the browser that started it may now finish, as them. Once per token.

        Raises:
            InvalidInput: the token is unknown, used or expired.
            PermissionDenied: the account's person is banned.
        """
        valid_account_id(proven.platform, proven.account_id)
        holder = await self.find(proven.platform, proven.account_id)
        if holder is not None and holder.banned:
            raise PermissionDenied(BANNED)
        now = self._svc.clock.now()
        value = await self._svc.store.take_token(_waiting(token), now)
        if value is None:
            raise InvalidInput(CHAT_SIGN_IN_EXPIRED)
        proven = Proven(proven.platform, proven.account_id, proven.name, Proof.TELEGRAM_CHAT)
        expires = datetime.fromisoformat(value)
        await self._svc.store.put_token(_proven(token), encode_account(proven), expires, now)

    async def finish_chat_sign_in(
        self, secret: str, signed_in: PersonId | None = None
    ) -> tuple[Person, Proven] | None:
        """Sign in the browser holding ``secret`` once its token is proven (``None``: not
        yet), linking the account to ``signed_in`` as ``sign_in`` does.

        Raises:
            InvalidInput: the sign-in is unknown, used or expired.
            PermissionDenied: the person is banned.
        """
        store, token, now = self._svc.store, sign_in_token(secret), self._svc.clock.now()
        value = await store.take_token(_proven(token), now)
        if value is None:
            # Still waiting for the bot? Keeping a token under its key fails if so; if it
            # succeeds, the sign-in was gone (or proven just now): take the probe back.
            if not await store.put_token(_waiting(token), now.isoformat(), now, now):
                return None
            await store.take_token(_waiting(token), now)
            value = await store.take_token(_proven(token), now)
            if value is None:
                raise InvalidInput(CHAT_SIGN_IN_EXPIRED)
        proven = decode_account(value)
        return await self.sign_in(proven, signed_in), proven

    async def _try(self, who: str) -> None:
        wait = await self._svc.store.take_slot(
            f"link-try:{who}", LINK_TRIES, LINK_CODE_TTL.total_seconds(), self._svc.clock.now()
        )
        if wait:
            raise PermissionDenied(N_("Too many link codes tried; please wait a few minutes."))

    async def _take(self, code: str) -> str:
        value = await self._svc.store.take_token(link_code_key(code), self._svc.clock.now())
        if value is None:
            raise InvalidInput(N_("That code is unknown or has expired."), field="code")
        return value

    async def unlink(
        self,
        platform: Platform,
        account_id: str,
        *,
        actor: Actor | None = None,
        person_id: PersonId | None = None,
    ) -> bool:
        """Unlink an account, as an admin (``actor``) or as the person holding it
        (``person_id``, signed in on the web). Returns whether it was linked.

        Raises:
            PermissionDenied: neither an admin nor the account's person.
        """
        holder = await self.find(platform, account_id)
        if actor is not None:
            self._svc.require_admin(actor, N_("unlink accounts"))
        elif holder is None or holder.id != person_id:
            raise PermissionDenied(N_("You can only unlink your own accounts."))
        if holder is None:
            return False
        changed = await self._svc.store.unlink_account(platform, account_id)
        log.info("account unlinked", extra={"person_id": holder.id, "platform": str(platform)})
        return changed

    async def set_notifications(self, person_id: PersonId, on: bool) -> None:
        """Turn reply notifications on or off for a person."""
        if not await self._svc.store.set_person_flags(person_id, notify=on):
            raise NotFound(f"There is no person {person_id}.")

    # -- moderation -----------------------------------------------------------------------

    async def ban(self, actor: Actor, person_id: PersonId) -> int:
        """Ban a person: every linked account and the web author id of each sign-in is
        banned (``moderation.ban``, which deletes their comments everywhere), and they can no
        longer sign in. Returns how many comments were deleted.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such person.
        """
        self._svc.require_admin(actor, N_("ban people"))
        person = await self.person(person_id)
        await self._svc.store.set_person_flags(person.id, banned=True)
        deleted = 0
        for platform, user_id in author_keys(person):
            deleted += await moderation.ban(self._svc, actor, platform, user_id)
        log.info("person banned", extra={"person_id": person.id, "deleted": deleted})
        return deleted

    async def author_person(self, platform: Platform, user_id: str) -> Person | None:
        """The person behind a comment's author, if linked: a chat account, a web identity,
        or a signed-in web commenter (``telegram@777``: the account that vouched)."""
        vouching = vouched_by(user_id) if platform is Platform.WEB else None
        if vouching is not None:
            platform, user_id = vouching, user_id.partition(SIGNED_IN)[2]
        return await self.find(platform, user_id)

    async def ban_author(self, actor: Actor, platform: Platform, user_id: str) -> int:
        """Ban a comment's author (``NewsService.ban``): the whole person when the author is
        linked to one (``ban``), else the author alone (``moderation.ban``)."""
        self._svc.require_admin(actor, N_("ban authors"))
        person = await self.author_person(platform, user_id.strip())
        if person is None:
            return await moderation.ban(self._svc, actor, platform, user_id)
        return await self.ban(actor, person.id)

    async def unban_author(self, actor: Actor, platform: Platform, user_id: str) -> bool:
        """Lift a ban set by ``ban_author``. Returns whether anything was banned."""
        self._svc.require_admin(actor, N_("unban authors"))
        person = await self.author_person(platform, user_id.strip())
        if person is None:
            return await moderation.unban(self._svc, actor, platform, user_id)
        return await self.unban(actor, person.id)

    async def unban(self, actor: Actor, person_id: PersonId) -> bool:
        """Lift a person's ban and the bans of their accounts. Returns whether they were
        banned."""
        self._svc.require_admin(actor, N_("unban people"))
        person = await self.person(person_id)
        await self._svc.store.set_person_flags(person.id, banned=False)
        for platform, user_id in author_keys(person):
            await moderation.unban(self._svc, actor, platform, user_id)
        return person.banned

    async def hide_all(self, actor: Actor, person_id: PersonId) -> int:
        """Delete every comment of a person, with every copy on every platform. Returns how
        many."""
        self._svc.require_admin(actor, N_("delete comments"))
        found = await self.comments(await self.person(person_id))
        for comment in found:
            await delete(self._svc, comment)
        return len(found)

    async def export(self, actor: Actor, person_id: PersonId) -> dict[str, object]:
        """Everything stored about a person, as JSON-ready values: their flags, accounts
        and comments (what they asked for under the right of access)."""
        self._svc.require_admin(actor, N_("export people"))
        person = await self.person(person_id)
        comments = await self.comments(person)
        return {
            "person": person.id,
            "created_at": person.created_at.isoformat(),
            "banned": person.banned,
            "reply_notifications": person.notify,
            "accounts": [
                {
                    "platform": str(a.platform),
                    "account_id": a.account_id,
                    "name": a.name,
                    "verified_by": a.verified_by,
                    "linked_at": a.linked_at.isoformat(),
                }
                for a in person.accounts
            ],
            "comments": [
                {
                    "id": c.id,
                    "article_id": c.article_id,
                    "parent_id": c.parent_id,
                    "written_on": str(c.source.platform),
                    "as": c.author.name,
                    "text": c.text,
                    "created_at": c.created_at.isoformat(),
                    "edited_at": c.edited_at.isoformat() if c.edited_at else None,
                }
                for c in comments
            ],
        }

    async def forget(self, actor: Actor, person_id: PersonId, *, remove_comments: bool) -> int:
        """Forget a person: their accounts and flags go; their comments are removed with
        every copy (``remove_comments``), or kept under ``DELETED_USER`` on every copy (each
        copy is edited to show it). Their bans stay, so a banned person stays banned.
        Returns how many comments were touched.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such person.
        """
        self._svc.require_admin(actor, N_("forget people"))
        person = await self.person(person_id)
        found = await self.comments(person)
        store, now = self._svc.store, self._svc.clock.now()
        if remove_comments:
            for comment in found:
                await delete(self._svc, comment)
        else:
            for platform, user_id in author_keys(person):
                await store.rename_author(platform, user_id, DELETED_USER, FORGOTTEN)
            for comment in found:
                await store.edit_comment(comment.id, comment.text, now)
            self._svc._enqueued()
        await store.forget_person(person.id)
        log.info(
            "person forgotten",
            extra={"person_id": person.id, "comments": len(found), "removed": remove_comments},
        )
        return len(found)

    async def is_banned(self, person_id: PersonId) -> bool:
        """Whether a person is banned (a person forgotten meanwhile counts as banned)."""
        person = await self._svc.store.get_person(person_id)
        return person is None or person.banned


def accounts_text(accounts: Sequence[Account]) -> str:
    """A person's accounts on one line, for the command line and chats."""
    return ", ".join(f"{a.platform}:{a.account_id} ({a.name})" for a in accounts) or "none"
