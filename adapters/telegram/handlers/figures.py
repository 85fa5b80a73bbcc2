"""``/stats``: an article's figures in short, for newsbot admins, in private."""

from __future__ import annotations

from telegram import Update

from adapters.telegram.handlers.base import Context, HandlerGroup, guarded
from adapters.telegram.handlers.parsing import parse_id
from newsbot.i18n import N_
from newsbot.models import ArticleId
from newsbot.stats import NOTHING_PUBLISHED, summary


class Figures(HandlerGroup):
    """Articles' figures."""

    @guarded("stats")
    async def stats(self, update: Update, context: Context) -> None:
        """``/stats [ID]``: the article's figures (the latest article's without an id)."""
        if not await self.private_only(update, "/stats"):
            return
        actor = self.actor(update)
        figures = self.service.figures
        if context.args:
            found = await figures.article(
                actor, ArticleId(parse_id(context.args, N_("Usage: /stats [ID]")))
            )
        else:
            latest = await figures.latest(actor, 1)
            if not latest:
                await self.say(update, NOTHING_PUBLISHED)
                return
            found = latest[0]
        names = await figures.chat_names(found)
        tr = (await self.speech(update)).tr
        await self.send(update, "\n".join(summary(found, names, tr)))
