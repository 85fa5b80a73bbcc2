"""Readers as people: ``/link`` in a private chat links this Telegram account to a person
signed in on the web (a one-time code either way); ``/notifications on|off`` says whether
replies to one's comments come here in private."""

from __future__ import annotations

from urllib.parse import urlsplit

from telegram import Update
from telegram.constants import ChatType

from adapters.telegram.handlers.base import Context, HandlerGroup, guarded
from newsbot.errors import PermissionDenied
from newsbot.i18n import N_
from newsbot.identity import LINKED
from newsbot.models import Platform
from newsbot.people import Proof, Proven, sign_in_payload

SIGNED_IN_THERE = N_("You are signed in on %(site)s: go back to the page and press Continue.")


class People(HandlerGroup):
    """``/link``: proof, in a private chat, that the sender holds this account."""

    def proven(self, update: Update) -> Proven:
        """The sender's account: the private chat with the bot proves they hold it."""
        user = update.effective_user
        if user is None:
            raise PermissionDenied(N_("I cannot tell who sent this."))
        name = user.full_name or user.username or f"user {user.id}"
        return Proven(Platform.TELEGRAM, str(user.id), name, Proof.LINK_CODE)

    @guarded("link")
    async def link(self, update: Update, context: Context) -> None:
        """``/link`` gives a code to enter on the site; ``/link CODE`` enters the site's."""
        if not await self.private_only(update, "/link"):
            return
        await self.started(update)
        people = self.service.people
        if context.args:
            person = await people.redeem_in_chat(self.proven(update), "".join(context.args))
            accounts = ", ".join(f"{a.platform} ({a.name})" for a in person.accounts)
            await self.say(update, LINKED, accounts=accounts)
            return
        code = await people.chat_link_code(self.proven(update))
        await self.say(
            update,
            N_(
                "Your link code: %(code)s\nEnter it at %(url)s/signin while "
                "signed in, within 10 minutes. Nobody else needs it: do not share it."
            ),
            code=code,
            url=self.service.public_url,
        )

    @guarded("sign in")
    async def sign_in(self, update: Update, context: Context) -> None:
        """``/start signin-TOKEN`` in a private chat: the browser that showed the link may
        now finish signing in as this account (``adapters.web.signin_chat``)."""
        if not await self.private_only(update, "/start"):
            return
        token = sign_in_payload((context.args or [""])[0])
        if token is None:  # pragma: no cover - /start routes only sign-in parameters here
            return
        await self.service.people.prove_chat_sign_in(token, self.proven(update))
        speech = await self.speech(update)
        site = urlsplit(self.service.public_url).netloc or self.service.public_url
        await self.send(update, speech.gettext(SIGNED_IN_THERE) % {"site": site})

    async def started(self, update: Update) -> None:
        """A private message to the bot: the user started it, so it may write to them."""
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None and chat.type == ChatType.PRIVATE:
            await self.service.notifications.started(Platform.TELEGRAM, str(user.id))

    @guarded("notifications")
    async def notifications(self, update: Update, context: Context) -> None:
        """``/notifications on|off``: replies to one's comments as private messages here;
        without an argument, says which is in force."""
        if not await self.private_only(update, "/notifications"):
            return
        account = self.proven(update).account_id
        notes = self.service.notifications
        choice = "".join(context.args or []).strip().lower()
        if choice in ("on", "off"):
            await notes.switch(Platform.TELEGRAM, account, choice == "on")
        else:
            await notes.started(Platform.TELEGRAM, account)
        on = await notes.enabled(Platform.TELEGRAM, account)
        said = (
            N_("Replies to your comments come here.") if on else N_("Replies are not sent here.")
        )
        change = N_("Change it with /notifications on or /notifications off.")
        await self.send(
            update, f"{await self.words(update, said)} {await self.words(update, change)}"
        )
