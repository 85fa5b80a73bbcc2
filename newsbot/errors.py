"""The exceptions newsbot raises, arranged so that callers can act on the branch they catch.

```
NewsBotError
├── ConfigError              a setting is missing or malformed; the message names it
├── DomainError              the request is refused; the message is safe to show the user
│   ├── NotFound             no such article, comment or destination
│   ├── PermissionDenied     the actor may not do this
│   └── InvalidInput         a value is empty, too long, malformed or not allowed
├── StorageError             the database failed (disk full, read-only, locked, corrupt)
│   └── SchemaTooNew         the database file was written by a newer newsbot
├── DeliveryError            a publisher could not deliver; raised by adapters, read by the
│   │                        dispatcher to decide between retrying and giving up
│   ├── RateLimited          the platform said to wait ``retry_after`` seconds
│   └── DestinationGone      the chat is gone, or the bot was removed or forbidden there
└── FeedError                a feed gave no usable answer (no connection, a timeout, a
                             refused address, too big, not a feed); the poller backs off
```

A ``DomainError`` carries its sentence as a ``newsbot.i18n.Message`` (``error.message``): the
English ``str(error)`` for logs, the command line and tests, and the message id and values an
adapter renders in its reader's language (``error.translated(tr)``); ``code`` names the kind of
refusal for machines (the JSON API's ``code`` field).

Adapters translate SDK exceptions into these at their edge; the core never sees an SDK
exception. A ``DeliveryError`` that is neither leaf is transient: the dispatcher retries it
with exponential backoff.
"""

from __future__ import annotations

from typing import ClassVar

from newsbot.i18n import ENGLISH, Message, Translator


class NewsBotError(Exception):
    """The root of every exception newsbot raises on purpose."""


class ConfigError(NewsBotError):
    """A configuration value is missing or malformed."""


class DomainError(NewsBotError):
    """A request was refused. ``str(error)`` is meant for the person who made it (in English;
    ``translated`` in theirs).

    Args:
        message: the sentence, marked ``N_("...")`` (with ``%(name)s`` placeholders filled from
            ``values``), or a ``Message`` (one that counts: ``Message.ngettext``).
    """

    code: ClassVar[str] = "refused"
    """The kind of refusal for machines (stable; the JSON API's ``code``)."""

    def __init__(self, message: str | Message, /, **values: object) -> None:
        self.message = message if isinstance(message, Message) else Message(message, values=values)
        super().__init__(self.message.render())

    def translated(self, tr: Translator = ENGLISH) -> str:
        """The refusal in ``tr``'s language."""
        return self.message.render(tr)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its Message (not its English) when it crosses a process boundary.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[DomainError], message: Message, state: dict[str, object]) -> DomainError:
    error = cls.__new__(cls)
    DomainError.__init__(error, message)
    error.__dict__.update(state)
    return error


class NotFound(DomainError):
    """The article, comment or destination does not exist."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The actor lacks the right to do this."""

    code = "forbidden"


class InvalidInput(DomainError):
    """A value is empty, too long, malformed or otherwise not acceptable.

    Attributes:
        field: the name of the offending field, when there is one.
    """

    code = "invalid_input"

    def __init__(
        self, message: str | Message, /, *, field: str | None = None, **values: object
    ) -> None:
        super().__init__(message, **values)
        self.field = field


class TooSoon(DomainError):
    """The story is in slow mode and the reader commented on it too recently
    (``newsbot.slowmode``).

    Attributes:
        retry_after: seconds until the reader may comment again (at least 1).
        every: the story's slow mode, in seconds.
    """

    code = "too_soon"

    def __init__(self, retry_after: int, every: int) -> None:
        super().__init__(
            Message.ngettext(
                "Slow mode: you may comment again in %(count)s second.",
                "Slow mode: you may comment again in %(count)s seconds.",
                retry_after,
            )
        )
        self.retry_after = retry_after
        self.every = every


class StorageError(NewsBotError):
    """The store failed; what was acknowledged before stays stored."""


class SchemaTooNew(StorageError):
    """The database was created by a newer version of newsbot."""


class DeliveryError(NewsBotError):
    """A publisher failed to deliver. Transient unless it is one of the subclasses."""


class RateLimited(DeliveryError):
    """The platform asked to wait before the next request.

    Attributes:
        retry_after: seconds to wait before retrying this delivery.
        scope: ``"chat"`` when only this chat is limited, ``"global"`` when the whole bot is.
    """

    def __init__(self, retry_after: float, *, scope: str = "chat", message: str = "") -> None:
        super().__init__(message or f"rate limited: retry after {retry_after:g} s ({scope})")
        self.retry_after = retry_after
        self.scope = scope


class DestinationGone(DeliveryError):
    """The chat no longer exists, or the bot may no longer post there. Never retried."""


class FeedError(NewsBotError):
    """A feed could not be fetched or read; the poller backs off and tries again.

    Raised by a ``FeedSource`` for anything short of an HTTP answer (no connection, a
    timeout, an address that is not allowed, too many redirects, a body over the size cap)
    and for an answer that is not a feed. The message is safe to show an admin.
    """
