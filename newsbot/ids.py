"""The ids of the domain's records, distinct types over ``int``."""

from __future__ import annotations

from typing import NewType

ArticleId = NewType("ArticleId", int)
CommentId = NewType("CommentId", int)
DestinationId = NewType("DestinationId", int)
DeliveryId = NewType("DeliveryId", int)
FeedId = NewType("FeedId", int)
