"""Subscriptions: /subscribe, /unsubscribe, and /approve for newsbot admins."""

from __future__ import annotations

import logging

from telegram import (
    Chat,
    ChatMemberAdministrator,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram.handlers.base import (
    ADMIN_STATUSES,
    GONE_STATUSES,
    Context,
    HandlerGroup,
    describe,
    destination_kind,
    guarded,
)
from adapters.telegram.handlers.parsing import (
    parse_chat,
    parse_tags,
    parse_topic,
)
from adapters.telegram.publisher import NO_PREVIEW, chat_key, redact
from adapters.telegram.render import (
    Rendered,
    plain,
    shown_name,
    with_inert,
)
from newsbot.errors import (
    DeliveryError,
    InvalidInput,
    StorageError,
)
from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import (
    Destination,
    DestinationKind,
    NewDestination,
    Platform,
)

log = logging.getLogger("newsbot.telegram")

NOTICES_PER_HOUR = 3  # approval notices to admins, per person asking
PENDING_SHOWN = 30


class Subscriptions(HandlerGroup):
    """Chats asking for articles, and the admins approving them."""

    @guarded("subscribe")
    async def subscribe(self, update: Update, context: Context) -> None:
        """``/subscribe`` in a group, or ``/subscribe @channel|-100…`` in private."""
        chat = update.effective_chat
        assert chat is not None
        tr = await self.speech(update)
        args = list(context.args or [])
        if chat.type == ChatType.PRIVATE:
            if not args:
                raise InvalidInput(
                    tr.gettext(
                        "Usage: /subscribe @channel (or its -100… id). Make me an administrator "
                        "there with the right to post messages first."
                    )
                )
            target = await self.resolve_chat(update, args[0])
            await self.check_can_post(update, target)
            chat_admin = await self.is_chat_admin(update, target.id)
            tags = parse_tags(args[1:])
        else:
            target = chat
            chat_admin = await self.is_chat_admin(update, chat.id)
            tags = parse_tags(args)
        kind = destination_kind(target)
        message = update.effective_message
        thread = None
        if kind is DestinationKind.FORUM and message is not None and message.is_topic_message:
            thread = str(message.message_thread_id)
        result = await self.service.subscribe(
            self.actor(update, chat_admin=chat_admin),
            NewDestination(
                Platform.TELEGRAM,
                str(target.id),
                kind,
                title=target.title or target.username or "",
                thread_id=thread,
                tags=tags,
            ),
        )
        destination = result.destination
        name = shown_name(target.title or "") or str(target.id)
        if destination.pending:
            text = (
                tr.gettext(
                    "%(name)s is waiting for a newsbot admin's approval; new articles will be "
                    "posted there once it is approved."
                )
                if result.created
                else tr.gettext("%(name)s is still waiting for a newsbot admin's approval.")
            )
        elif result.created:
            text = tr.gettext("Subscribed %(name)s: new articles will be posted there.")
        else:
            text = tr.gettext("%(name)s was already subscribed.")
        text = text % {"name": name}
        warning = await self.visibility_warning(update, target)
        await self.send(update, text + (f"\n\n{warning}" if warning else ""))
        if result.created and destination.pending:
            await self.tell_admins(update, destination)

    async def tell_admins(self, update: Update, destination: Destination) -> None:
        """Tell the newsbot admins, in their private chats, that a chat waits for approval.

        At most one notice per chat per hour and ``NOTICES_PER_HOUR`` per person asking, so
        a chat admin subscribing and unsubscribing in a loop, or asking for many chats, cannot
        flood the admins nor use up notices that others' requests need. The chat's title and
        the person's name are shown as code: inert, whatever links they hold. Best effort: the
        subscription is stored whatever happens here.
        """
        admins = self.admin_ids()
        if not admins:
            return
        user = update.effective_user
        message = update.effective_message
        # An anonymous group admin writes as the group: one requester per group, not the one
        # account all anonymous admins share.
        sender = message.sender_chat if message is not None else None
        requester = f"chat:{sender.id}" if sender is not None else str(user.id if user else "")
        try:
            if await self.service.rate_slot(
                f"telegram.approval-notice:{destination.chat_id}", 1, 3600
            ) or await self.service.rate_slot(
                f"telegram.approval-notices:{requester}", NOTICES_PER_HOUR, 3600
            ):
                log.info("approval notice skipped: too many", extra=describe(update))
                return
        except StorageError:
            log.warning("approval notice skipped: storage failed", extra=describe(update))
            return
        name = shown_name(destination.title) or destination.chat_id
        topic = destination.thread_id
        target = f"{destination.chat_id} {topic}" if topic else destination.chat_id
        tr = self.shared.speech.tr  # the admins' private chats: NEWSBOT_LANGUAGE
        where = ""
        if topic:
            where = tr.gettext(N_(", topic %(topic)s")) % {"topic": topic}
        someone = tr.gettext(N_("someone"))
        who: list[tuple[str, bool]] = [(someone, False)]
        if user is not None:
            who = [(shown_name(user.full_name) or someone, True), (f" ({user.id})", False)]
        asks = tr.gettext(N_(" (%(chat_id)s%(where)s) asks to receive articles: "))
        sent = tr.gettext(
            N_(
                " sent /subscribe. Approve it with /approve %(target)s, or see every chat "
                "waiting with /approve."
            )
        )
        notice = with_inert(
            [
                (name, True),
                (asks % {"chat_id": destination.chat_id, "where": where}, False),
                *who,
                (sent % {"target": target}, False),
            ]
        )
        bot = update.get_bot()
        for admin in admins:
            try:
                await bot.send_message(
                    admin, notice.text, entities=notice.entities, link_preview_options=NO_PREVIEW
                )
            except (TelegramError, DeliveryError) as error:
                # An admin who never wrote to the bot has no private chat with it yet.
                log.info(
                    "could not tell an admin about a subscription",
                    extra={"user_id": admin, "error": redact(str(error), self.token)},
                )

    async def resolve_chat(self, update: Update, raw: str) -> Chat:
        """The chat named by ``@username`` or a numeric id, as the bot can see it."""
        name = parse_chat(raw, N_("Name the chat as @username or by its numeric id (-100…)."))
        try:
            found = await update.get_bot().get_chat(chat_key(name))
        except (BadRequest, Forbidden) as error:
            raise InvalidInput(
                N_("I cannot see %(name)s. Add me there as an administrator first. (%(error)s)"),
                name=name,
                error=error,
            ) from None
        if found.type == ChatType.PRIVATE:
            raise InvalidInput(N_("That is a private chat; name a channel or a group."))
        return Chat(found.id, found.type, title=found.title, username=found.username)

    async def check_can_post(self, update: Update, target: Chat) -> None:
        """Refuse to subscribe a chat the bot cannot post in."""
        bot = update.get_bot()
        try:
            member = await bot.get_chat_member(target.id, bot.id)
        except (BadRequest, Forbidden):
            member = None
        if target.type == ChatType.CHANNEL:
            if not (
                isinstance(member, ChatMemberAdministrator) and member.can_post_messages
            ) and not (member is not None and member.status == ChatMemberStatus.OWNER):
                raise InvalidInput(
                    N_(
                        "Make me an administrator of %(chat)s with the right "
                        "to post messages, then send /subscribe again."
                    ),
                    chat=target.title or target.id,
                )
        elif member is None or member.status in GONE_STATUSES:
            raise InvalidInput(N_("Add me to %(chat)s first."), chat=target.title or target.id)

    async def visibility_warning(self, update: Update, target: Chat) -> str:
        """Why comments in a chat (or its discussion group) may stay invisible to the bot."""
        bot = update.get_bot()
        tr = (await self.speech(update)).tr
        group_id: int | None = target.id
        where = tr.gettext(N_("this group"))
        if target.type == ChatType.CHANNEL:
            try:
                info = await bot.get_chat(target.id)
            except TelegramError:
                return ""
            group_id = info.linked_chat_id
            where = tr.gettext(N_("the channel's discussion group"))
            if group_id is None:
                return tr.gettext(
                    N_(
                        "The channel has no discussion group, so readers cannot comment there. "
                        "Link one in the channel settings and make me an administrator of it."
                    )
                )
        assert group_id is not None
        try:
            member = await bot.get_chat_member(group_id, bot.id)
        except (BadRequest, Forbidden):
            member = None
        if member is None or member.status in GONE_STATUSES:
            problem = N_("I am not a member of %(where)s, so I cannot see readers' comments there")
        elif member.status in ADMIN_STATUSES or self.sees_all:
            return ""
        elif target.type == ChatType.CHANNEL:
            problem = N_(
                "I am not an administrator of %(where)s and my privacy mode is on, so I "
                "cannot see readers' comments there"
            )
        else:
            problem = N_(
                "I am not an administrator of %(where)s and my privacy mode is on, so I see "
                "only direct replies to my posts, not replies to other comments"
            )
        log.warning(
            "cannot see comments",
            extra={"chat_id": target.id, "group_id": group_id, "problem": problem},
        )
        note = N_(
            "Note: %(problem)s. Make me an administrator of it (or turn privacy mode off "
            "with @BotFather's /setprivacy)."
        )
        return tr.gettext(note) % {"problem": tr.gettext(problem) % {"where": where}}

    @guarded("unsubscribe")
    async def unsubscribe(self, update: Update, context: Context) -> None:
        """``/unsubscribe`` in a group, or ``/unsubscribe @channel|-100…`` in private."""
        chat = update.effective_chat
        assert chat is not None
        tr = await self.speech(update)
        args = list(context.args or [])
        thread = None
        if chat.type == ChatType.PRIVATE:
            usage = tr.gettext("Usage: /unsubscribe @channel (or its -100… id).")
            chat_id = parse_chat(args[0] if args else "", usage)
            if chat_id.startswith("@"):
                chat_id = str((await self.resolve_chat(update, chat_id)).id)
            chat_admin = await self.is_chat_admin(update, chat_key(chat_id))
        else:
            chat_id = str(chat.id)
            chat_admin = await self.is_chat_admin(update, chat.id)
            message = update.effective_message
            if chat.is_forum and message is not None and message.is_topic_message:
                thread = str(message.message_thread_id)
        destination = await self.service.unsubscribe(
            self.actor(update, chat_admin=chat_admin), Platform.TELEGRAM, chat_id, thread
        )
        name = shown_name(destination.title) or destination.chat_id
        await self.send(
            update, tr.gettext("Unsubscribed %(name)s: no more articles.") % {"name": name}
        )

    @guarded("approve")
    async def approve(self, update: Update, context: Context) -> None:
        """``/approve`` lists the subscriptions waiting; ``/approve CHAT_ID [TOPIC]`` approves
        one (newsbot admins, in private)."""
        if not await self.private_only(update, "/approve"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, N_("approve subscriptions"))
        args = list(context.args or [])
        usage = N_(
            "Usage: /approve CHAT_ID (and the topic id for a forum topic), or /approve alone."
        )
        if not args:
            await self.send(update, await self.pending_list((await self.speech(update)).tr))
            return
        chat_id = parse_chat(args[0], usage)
        thread = parse_topic(args[1:], usage)
        destination = await self.service.approve(actor, Platform.TELEGRAM, chat_id, thread)
        name = shown_name(destination.title) or destination.chat_id
        await self.say(
            update, N_("Approved %(name)s: new articles will be posted there."), name=name
        )

    async def pending_list(self, tr: Translator = ENGLISH) -> Rendered:
        """The Telegram subscriptions waiting for approval, as the answer to ``/approve``
        (titles shown as code, inert)."""
        pending = [
            d for d in await self.service.pending_destinations() if d.platform is Platform.TELEGRAM
        ]
        if not pending:
            return plain(tr.gettext(N_("No subscription is waiting for approval.")))
        parts = [(tr.gettext(N_("Waiting for approval:")), False)]
        for destination in pending[:PENDING_SHOWN]:
            topic = f" {destination.thread_id}" if destination.thread_id else ""
            name = shown_name(destination.title) or destination.chat_id
            parts += [("\n• ", False), (name, True)]
            parts.append((f": /approve {destination.chat_id}{topic}", False))
        if len(pending) > PENDING_SHOWN:
            more = len(pending) - PENDING_SHOWN
            and_more = Message.ngettext(
                "\n… and %(count)s more (python bot.py destinations)",
                "\n… and %(count)s more (python bot.py destinations)",
                more,
            )
            parts.append((and_more.render(tr), False))
        return with_inert(parts)
