"""How a thread is shown: its tree, bounded in depth and in size, one page at a time.

Readers decide how deep a reply chain goes, and a chain can be thousands of comments deep, so
nothing here (nor anything that shows a thread) recurses over it: every walk keeps its own
stack. Two bounds keep a page cheap to render on every platform:

- depth: replies nest at most ``THREAD_DEPTH`` levels below a top-level comment. Deeper
  replies are listed flat at that last level, right after the comment they descend from and
  in thread order, as large comment systems do; each keeps its ``parent_id``, so a page can
  say which comment it answers.
- size: a page holds at most ``PAGE_COMMENTS`` comments (placeholders included). A top-level
  comment whose replies do not fit is continued on the next page, which shows it again with
  the ancestors of its next replies, so that they are read in their place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from newsbot.cursors import ThreadPosition
from newsbot.models import Author, Comment, CommentId, CommentNode, CommentStatus, ThreadCursor

THREAD_DEPTH = 8
"""The deepest level a reply is shown at (top-level comments are level 0)."""
PAGE_COMMENTS = 200
"""The most comments one page of a thread holds, besides the ancestors repeated as context."""


def walk(nodes: Sequence[CommentNode]) -> Iterator[tuple[CommentNode, int]]:
    """Every node of a forest with its depth, in thread order (each comment, then its
    replies), without recursion."""
    stack = [(node, 0) for node in reversed(nodes)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        stack.extend((reply, depth + 1) for reply in reversed(node.replies))


def build(roots: Sequence[Comment], replies: Sequence[Comment]) -> list[CommentNode | None]:
    """The shown tree of each top-level comment (``None`` where nothing of it is shown).

    ``replies`` come oldest first, as ``Store.thread_page`` returns them; a reply whose
    parent is not among them is left out. Removed comments (deleted or hidden) stay only as
    placeholders where visible replies hang under them; the depth is then capped.
    """
    nodes = {c.id: CommentNode(c) for c in roots}
    for reply in replies:
        nodes.setdefault(reply.id, CommentNode(reply))
    for reply in replies:
        node = nodes[reply.id]
        parent = nodes.get(reply.parent_id) if reply.parent_id is not None else None
        if parent is not None and parent is not node:
            parent.replies.append(node)
    trees: list[CommentNode | None] = []
    for root in roots:
        tree = _prune(nodes[root.id])
        if tree is not None:
            _cap_depth(tree)
        trees.append(tree)
    return trees


def _prune(root: CommentNode) -> CommentNode | None:
    order = [node for node, _ in walk([root])]
    kept: set[CommentId] = set()
    for node in reversed(order):  # replies before the comment they answer
        node.replies = [r for r in node.replies if r.comment.id in kept]
        if node.comment.status is CommentStatus.VISIBLE or node.replies:
            kept.add(node.comment.id)
        if node.comment.status is not CommentStatus.VISIBLE and node.replies:
            node.comment = _placeholder(node.comment)
    return root if root.comment.id in kept else None


def _placeholder(hidden: Comment) -> Comment:
    return Comment(
        id=hidden.id,
        article_id=hidden.article_id,
        parent_id=hidden.parent_id,
        author=Author("", hidden.author.platform, ""),
        text="",
        source=hidden.source,
        status=hidden.status,
        created_at=hidden.created_at,
        edited_at=hidden.edited_at,
        deleted_at=hidden.deleted_at,
    )


def _cap_depth(root: CommentNode) -> None:
    """Hang every comment deeper than ``THREAD_DEPTH`` under its ancestor one level above
    that, in thread order, so that it is shown flat at the last level."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth < THREAD_DEPTH - 1:
            stack.extend((reply, depth + 1) for reply in node.replies)
            continue
        flat = [reply for reply, _ in walk(node.replies)]
        for reply in flat:
            reply.replies = []
        node.replies = flat


def paginate(
    roots: Sequence[Comment],
    trees: Sequence[CommentNode | None],
    *,
    limit: int,
    size: int,
    start: ThreadPosition | None,
) -> tuple[list[CommentNode], ThreadPosition | None, bool]:
    """Cut a page out of the fetched top-level comments (``limit`` of them, and one more
    when there are more) and their ``build`` trees: at most ``size`` comments, from
    ``start`` on.

    Returns the page's trees, where the next page starts (``None``: this is the last), and
    whether the first tree continues one cut off on the page before.
    """
    shown: list[CommentNode] = []
    left = size
    after = start.after if start is not None else None
    continued = False
    for index, (root, tree) in enumerate(zip(roots[:limit], trees, strict=False)):
        skip = 0
        if index == 0 and start is not None and start.root == root.id:
            skip = start.skip
        rows = [node for node, _ in walk([tree])] if tree is not None else []
        if skip < len(rows):
            if left <= 0:
                return shown, ThreadPosition(after), continued
            stop = min(len(rows), skip + left)
            shown.append(_part(rows, skip, stop))
            continued = continued or skip > 0
            left -= stop - skip
            if stop < len(rows):
                return shown, ThreadPosition(after, root.id, stop), continued
        after = ThreadCursor(root.created_at, root.id)
    if len(roots) > limit:
        return shown, ThreadPosition(after), continued
    return shown, None, continued


def _part(rows: list[CommentNode], start: int, stop: int) -> CommentNode:
    """The tree of ``rows[start:stop]`` (a tree in thread order) with their ancestors."""
    if start == 0 and stop == len(rows):
        return rows[0]
    parent_of: dict[CommentId, CommentNode] = {}
    for node in rows:
        for reply in node.replies:
            parent_of[reply.comment.id] = node
    wanted: set[CommentId] = set()
    for node in rows[start:stop]:
        current: CommentNode | None = node
        while current is not None and current.comment.id not in wanted:
            wanted.add(current.comment.id)
            current = parent_of.get(current.comment.id)
    copies: dict[CommentId, CommentNode] = {}
    for node in rows:
        if node.comment.id not in wanted:
            continue
        copy = copies[node.comment.id] = CommentNode(node.comment)
        parent = parent_of.get(node.comment.id)
        if parent is not None:
            copies[parent.comment.id].replies.append(copy)
    return copies[rows[0].comment.id]
