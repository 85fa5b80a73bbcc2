"""The slash commands and message menus, registered on a client's command tree.

The commands live in groups by concern, each with one permission rule and one error policy
(``interactions.CommandGroup``): articles (``articles.py``), subscriptions and approvals
(``subscriptions.py``), reading (``reading.py``), feeds (``feeds.py``), comment policies
(``policy.py``) and the moderation menus (``moderation.py``). Every interaction is first
admitted by the tree (``admit``).
"""

from __future__ import annotations

from adapters.discord.articles import ArticleCommands
from adapters.discord.client import NewsTree
from adapters.discord.feeds import FeedCommands
from adapters.discord.figures import FigureCommands
from adapters.discord.groups import tree_error
from adapters.discord.interactions import admit
from adapters.discord.moderation import moderation_menus
from adapters.discord.people import PeopleCommands
from adapters.discord.policy import PolicyCommands
from adapters.discord.reading import ReadingCommands
from adapters.discord.scheduling import ScheduleCommands
from adapters.discord.subscriptions import ApprovalCommands, ChannelCommands


def install_commands(tree: NewsTree) -> None:
    """Add every newsbot command to a command tree (one tree per client), behind ``admit``.

    Users type ``/publish``, ``/subscribe``, ... as they always have: those groups' commands
    are registered at the top level; ``/feed`` is the one group users see as such.
    """
    tree.admission = admit
    articles, channels, approvals = ArticleCommands(), ChannelCommands(), ApprovalCommands()
    reading = ReadingCommands()
    order = {"publish": 0, "edit": 1, "retract": 2, "subscribe": 3, "unsubscribe": 4}
    order |= {"approve": 5, "latest": 6, "article": 7, "comments": 8, "link": 9, "policy": 10}
    order |= {"scheduled": 11, "notifications": 12, "stats": 13}
    flat = [*articles.top_level(), *channels.top_level(), *approvals.top_level()]
    flat += [*reading.top_level(), *PeopleCommands().top_level(), *PolicyCommands().top_level()]
    flat += ScheduleCommands().top_level()
    flat += FigureCommands().top_level()
    for command in sorted(flat, key=lambda c: order[c.name]):
        tree.add_command(command)
    tree.add_command(FeedCommands())
    for menu in moderation_menus():
        tree.add_command(menu)
    tree.error(tree_error)
