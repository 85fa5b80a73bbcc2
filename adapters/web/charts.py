"""Charts drawn on the server as inline SVG: no script, no CDN. Colours come from classes in
``static/style.css`` (the page's CSP allows no inline style), so they follow dark mode; the
numbers are also given as a table (``rows``) for screen readers and for reading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 260
_LEFT, _BOTTOM, _TOP = 48, 34, 40


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart of counts over time by series (platforms), and its numbers as a table."""

    title: str
    svg: Markup
    series: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]  # (bucket label, a count per series)


def _label(at: datetime, bucket: float) -> str:
    return at.strftime("%d %b %H:%M" if bucket < 86400 else "%d %b")


def stacked_bars(
    title: str,
    counts: Mapping[tuple[datetime, str], int],
    bucket: float,
    ident: str,
    *,
    empty: str = "Nothing yet",
) -> Chart:
    """Stacked bars: one per time bucket, a segment per series, with axis labels and a
    legend; ``ident`` makes the ids inside the SVG unique on the page; ``empty`` is shown
    (in the page's language) when there is nothing to draw."""
    buckets: Sequence[datetime] = sorted({at for at, _ in counts})
    series = tuple(sorted({s for _, s in counts}))
    totals = [sum(counts.get((at, s), 0) for s in series) for at in buckets]
    top = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - _LEFT - 8, HEIGHT - _BOTTOM - _TOP
    bar_w = plot_w / max(len(buckets), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + 14}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, at in enumerate(buckets):
        y = float(_TOP + plot_h)
        for s in series:
            n = counts.get((at, s), 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            x = _LEFT + i * bar_w + bar_w * 0.1
            parts.append(
                f'<rect class="bar {escape(s)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar_w * 0.8:.1f}" height="{h:.1f}"><title>{escape(s)} '
                f"{escape(_label(at, bucket))}: {n}</title></rect>"
            )
    if buckets:
        for at, anchor, x in ((buckets[0], "start", _LEFT), (buckets[-1], "end", WIDTH - 8)):
            parts.append(
                f'<text class="tick" x="{x}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                f"{escape(_label(at, bucket))}</text>"
            )
    for i, s in enumerate(series):
        x = _LEFT + i * 150
        parts.append(f'<rect class="bar {escape(s)}" x="{x}" y="6" width="18" height="18"/>')
        parts.append(f'<text class="legend" x="{x + 24}" y="22">{escape(s)}</text>')
    if not buckets:
        parts.append(
            f'<text class="legend" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            f"{escape(empty)}</text>"
        )
    parts.append("</svg>")
    rows = tuple(
        (_label(at, bucket), tuple(counts.get((at, s), 0) for s in series)) for at in buckets
    )
    return Chart(title, Markup("".join(parts)), series, rows)
