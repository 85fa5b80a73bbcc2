"""Building the world: users, guilds, roles, members and channels."""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Messages
from .wire import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    GUILD_FORUM,
    GUILD_MEDIA,
    GUILD_TEXT,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    JSON,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    VIEW_CHANNEL,
    _now_iso,
)
from .world import _Guild


class Guilds(Messages):
    """Guilds, roles, members and channels, added by tests."""

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> int:
        """Register a user (no guild membership)."""
        self.users.setdefault(user_id, self._make_user(user_id, name, bot=bot))
        return user_id

    def add_guild(
        self,
        name: str,
        owner_id: int | None = None,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
    ) -> int:
        """Create a guild the bot is in: @everyone role (id == guild id), a managed bot role
        with ``bot_permissions`` and the bot member. The owner becomes a member too."""
        gid = self.new_id()
        bot_role = self.new_id()
        if owner_id is None:
            owner_id = self.new_id()
        guild = _Guild(id=gid, name=name, owner_id=owner_id, bot_role_id=bot_role, joined_at="")
        guild.joined_at = _now_iso()
        guild.roles[gid] = self._role_payload(gid, "@everyone", everyone_permissions, 0)
        role = self._role_payload(bot_role, self.user["username"], bot_permissions, 1)
        role["managed"] = True
        role["tags"] = {"bot_id": str(self.bot_id)}
        guild.roles[bot_role] = role
        self.guilds[gid] = guild
        guild.members[self.bot_id] = {"roles": [bot_role], "nick": None, "joined_at": _now_iso()}
        if owner_id not in self.users:
            self.add_user(owner_id, f"owner{owner_id % 10000}")
        guild.members[owner_id] = {"roles": [], "nick": None, "joined_at": _now_iso()}
        if self._sessions:
            self._spawn(self._dispatch_guild_create_all(gid))
        return gid

    def _role_payload(self, role_id: int, name: str, permissions: int, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def add_role(
        self, guild_id: int, name: str, permissions: int, *, mentionable: bool = False
    ) -> int:
        guild = self.guilds[guild_id]
        rid = self.new_id()
        role = self._role_payload(rid, name, permissions, len(guild.roles))
        role["mentionable"] = mentionable
        guild.roles[rid] = role
        self._spawn(
            self._dispatch(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role}, INTENT_GUILDS
            )
        )
        return rid

    def add_member(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        roles: Sequence[int] = (),
        bot: bool = False,
        *,
        nick: str | None = None,
    ) -> int:
        guild = self.guilds[guild_id]
        self.add_user(user_id, name, bot=bot)
        guild.members[user_id] = {"roles": list(roles), "nick": nick, "joined_at": _now_iso()}
        event = {"guild_id": str(guild_id), **self._member_payload(guild, user_id)}
        self._spawn(self._dispatch("GUILD_MEMBER_ADD", event, INTENT_GUILD_MEMBERS))
        return user_id

    def add_channel(
        self,
        guild_id: int,
        name: str,
        type: int = GUILD_TEXT,
        *,
        parent_id: int | None = None,
        bot_can_send: bool = True,
        bot_can_view: bool = True,
        overwrites: Sequence[JSON] = (),
        topic: str | None = None,
        tags: Sequence[str] = (),
        require_tag: bool = False,
        owner_id: int | None = None,
    ) -> int:
        """Create a channel (0 text, 4 category, 5 announcement, 15 forum, 16 media) or, with
        ``parent_id`` and type 10/11/12, a thread. ``bot_can_send/view=False`` add a member
        overwrite denying the bot SEND_MESSAGES(+IN_THREADS) / VIEW_CHANNEL. ``overwrites`` are
        raw Discord overwrites ({"id", "type": 0 role | 1 member, "allow", "deny"})."""
        guild = self.guilds[guild_id]
        cid = self.new_id()
        if type in THREAD_TYPES:
            if parent_id is None:
                raise ValueError("a thread needs parent_id")
            thread = self._thread_payload(
                cid, guild_id, parent_id, name, type, owner_id or guild.owner_id
            )
            self.channels[cid] = thread
            self.threads[cid] = thread
            self._store[cid] = {}
            self._spawn(self._dispatch_thread_create(thread))
            return cid
        ows = [dict(o) for o in overwrites]
        deny = 0
        if not bot_can_send:
            deny |= SEND_MESSAGES | SEND_MESSAGES_IN_THREADS
        if not bot_can_view:
            deny |= VIEW_CHANNEL
        if deny:
            ows.append({"id": str(self.bot_id), "type": 1, "allow": "0", "deny": str(deny)})
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == str(guild_id))
        channel: JSON = {
            "id": str(cid),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": ows,
            "parent_id": str(parent_id) if parent_id else None,
            "topic": topic,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
            "default_thread_rate_limit_per_user": 0,
            "flags": 0,
        }
        if type in (GUILD_FORUM, GUILD_MEDIA):
            channel["available_tags"] = [
                {
                    "id": str(self.new_id()),
                    "name": tag,
                    "moderated": False,
                    "emoji_id": None,
                    "emoji_name": None,
                }
                for tag in tags
            ]
            channel["default_reaction_emoji"] = None
            channel["default_sort_order"] = None
            channel["default_forum_layout"] = 0
            channel["flags"] = 1 << 4 if require_tag else 0
        self.channels[cid] = channel
        self._store[cid] = {}
        self._spawn(self._dispatch("CHANNEL_CREATE", channel, INTENT_GUILDS))
        return cid

    def tag_id(self, channel_id: int, name: str) -> int:
        """The id of a forum tag by name."""
        for tag in self.channels[channel_id].get("available_tags", []):
            if tag["name"] == name:
                return int(tag["id"])
        raise KeyError(name)

    def channel(self, channel_id: int) -> JSON:
        return self.channels[channel_id]

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (and its threads): later REST calls get 404 Unknown Channel."""
        channel = self.channels[channel_id]
        self.deleted_channels.add(channel_id)
        for tid, thread in self.threads.items():
            if thread.get("parent_id") == str(channel_id):
                self.deleted_channels.add(tid)
        if int(channel["type"]) in THREAD_TYPES:
            self._spawn(self._dispatch("THREAD_DELETE", self._thread_delete_event(channel)))
        else:
            self._spawn(self._dispatch("CHANNEL_DELETE", channel, INTENT_GUILDS))

    def revoke_send(self, channel_id: int) -> None:
        """Take SEND_MESSAGES(+IN_THREADS) away from the bot in a channel: sends get 403 50013.

        For a channel this adds a member overwrite (and dispatches CHANNEL_UPDATE, so
        discord.py's permission view follows); for a thread it is recorded on the thread."""
        channel = self.channels[channel_id]
        if int(channel["type"]) in THREAD_TYPES:
            self._send_revoked_threads.add(channel_id)
            return
        deny = SEND_MESSAGES | SEND_MESSAGES_IN_THREADS
        for ow in channel["permission_overwrites"]:
            if ow["id"] == str(self.bot_id) and ow["type"] == 1:
                ow["deny"] = str(int(ow["deny"]) | deny)
                ow["allow"] = str(int(ow["allow"]) & ~deny)
                break
        else:
            channel["permission_overwrites"].append(
                {"id": str(self.bot_id), "type": 1, "allow": "0", "deny": str(deny)}
            )
        self._spawn(self._dispatch("CHANNEL_UPDATE", channel, INTENT_GUILDS))
