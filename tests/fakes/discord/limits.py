"""Rate limits (global, per route and per channel; 429 with retry_after), injected failures and latency."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .wire import _Route
from .world import World, _Injection

RATE_LIMIT_BODY_MESSAGE = "You are being rate limited."


@dataclass
class _Bucket:
    limit: int
    window: float
    remaining: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        """Consume one request; False when the window is exhausted."""
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + self.window
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def reset_after(self, now: float) -> float:
        return max(0.0, math.ceil((self.reset_at - now) * 1000) / 1000)


class Limits(World):
    """Discord's rate limits and the failures, delays and outages tests inject."""

    @staticmethod
    def _json_response(
        status: int, body: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = dict(headers or {})
        if body is None:
            return web.Response(status=status, headers=all_headers)
        all_headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    def set_limits(
        self,
        *,
        global_per_sec: int | None = None,
        per_channel: tuple[int, float] | None = None,
        default_route: tuple[int, float] | None = None,
    ) -> None:
        """Enforce rate limits (with the given values; the others keep Discord's defaults)."""
        if global_per_sec is not None:
            self._global_per_sec = global_per_sec
        if per_channel is not None:
            self._per_channel = per_channel
        if default_route is not None:
            self._default_route = default_route
        self._enforce = True
        self._buckets.clear()
        self._global_bucket = None

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        body: Any = None,
        scope: str = "user",
    ) -> None:
        """Answer the next ``count`` requests matching ``method`` (or "*") and ``path_regex``
        (``re.search`` on the path after /api/v10, e.g. ``r"/channels/\\d+/messages$"``) with
        ``status`` instead of handling them. 429s get ``Via``/``Retry-After`` and Discord's body
        (``retry_after`` defaults to 0.1 s); 502 gets Cloudflare's HTML page."""
        self._injections.append(
            _Injection(
                method.upper(), re.compile(path_regex), status, count, retry_after, body, scope
            )
        )

    def slow_next(self, method: str, path_regex: str, seconds: float, *, count: int = 1) -> None:
        """Carry out the next ``count`` requests matching ``method`` and ``path_regex`` at once
        (an interaction callback counts as acknowledged when it arrives) but hold each answer
        ``seconds`` before sending it: a slow answer, not a slow server."""
        self._slow.append(
            _Injection(method.upper(), re.compile(path_regex), 200, count, seconds, None, "")
        )

    def _slow_answer(self, method: str, path: str) -> float:
        for slow in self._slow:
            if slow.method in ("*", method) and slow.pattern.search(path):
                slow.count -= 1
                if slow.count <= 0:
                    self._slow.remove(slow)
                return slow.retry_after or 0.0
        return 0.0

    def set_down(self, down: bool) -> None:
        """While down, every REST call answers 502 and gateway connections are refused.
        Open gateway sessions are not dropped: use ``disconnect_gateway`` for that."""
        self._down = down

    def set_delay(self, seconds: float) -> None:
        """Extra latency before every REST answer."""
        self._delay = seconds

    def _bucket_limits(self, route: _Route) -> tuple[int, float]:
        if not self._enforce:
            return (1000, 1.0)
        if route.bucket_kind == "messages":
            return self._per_channel
        return self._default_route

    def _rate_headers(self, route: _Route, bucket: _Bucket, now: float) -> dict[str, str]:
        reset_after = bucket.reset_after(now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": route.bucket_hash,
        }

    def _too_many(
        self, retry_after: float, *, is_global: bool, scope: str, extra: dict[str, str]
    ) -> web.Response:
        self.count_429 += 1
        headers = {
            **extra,
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": RATE_LIMIT_BODY_MESSAGE,
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        self._notify()
        return self._json_response(429, body, headers)

    def _injected(self, method: str, path: str) -> web.Response | None:
        for injection in self._injections:
            if injection.method not in ("*", method) or not injection.pattern.search(path):
                continue
            injection.count -= 1
            if injection.count <= 0:
                self._injections.remove(injection)
            status = injection.status
            if status == 429:
                self.count_429_injected += 1
                retry_after = injection.retry_after if injection.retry_after is not None else 0.1
                if injection.body is not None:
                    self.count_429 += 1
                    headers = {
                        "Via": "1.1 google",
                        "Retry-After": str(max(1, math.ceil(retry_after))),
                        "X-RateLimit-Scope": injection.scope,
                    }
                    return self._json_response(429, injection.body, headers)
                return self._too_many(
                    retry_after,
                    is_global=injection.scope == "global",
                    scope=injection.scope,
                    extra={},
                )
            if status == 502 and injection.body is None:
                return web.Response(
                    status=502,
                    body=b"<html><head><title>502 Bad Gateway</title></head></html>",
                    headers={"Content-Type": "text/html"},
                )
            body = injection.body
            if body is None:
                body = {
                    403: {"message": "Missing Permissions", "code": 50013},
                    404: {"message": "404: Not Found", "code": 0},
                    500: {"message": "500: Internal Server Error", "code": 0},
                    503: {"message": "503: Service Unavailable", "code": 0},
                }.get(status, {"message": f"{status}: Error", "code": 0})
            return self._json_response(status, body)
        return None
