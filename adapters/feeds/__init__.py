"""Feeds over HTTP: ``HttpFeedSource`` fetches (aiohttp) and reads (feedparser, nh3,
markdownify) sites' RSS, Atom and JSON feeds for the core's feed poller (``newsbot.feeds``)."""

from adapters.feeds.http import GuardedResolver, HttpFeedSource, refused
from adapters.feeds.parse import parse_feed

__all__ = ["GuardedResolver", "HttpFeedSource", "parse_feed", "refused"]
