"""Pieces of self-contained HTML reports: a page with one style, tables, and inline SVG bar charts.

Shared by the demo's report and the evaluation reports so both look alike and neither repeats the other.
Everything is inline (no scripts, no fonts, no network), so a report opens from disk anywhere. This module
draws bars and tables only; the line charts, heatmaps and scatter plots of an evaluation live with it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from typing import Any

#: The one style of crispml's HTML reports.
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#111}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
    "td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}"
    "caption{font-weight:600;text-align:left;padding:.25rem 0}h2{border-bottom:1px solid #eee}"
    "figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}"
    "figcaption{font-weight:600;font-size:.9rem}"
)
#: The colour of bars and of the first series in a chart.
BLUE = "#3b82f6"


def esc(value: object) -> str:
    """``value`` as text safe inside HTML or SVG (quotes included)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A cell's text: thousands separated, three decimals for a fraction, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def table(caption: str, rows: list[dict[str, Any]]) -> str:
    """An HTML table of ``rows`` (columns in order of first appearance), or a note that there are none."""
    if not rows:
        return f"<p><em>{esc(caption)}: none</em></p>"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><caption>{esc(caption)}</caption><tr>{head}</tr>{body}</table>"


def figure(caption: str, width: int, height: int, content: Iterable[str]) -> str:
    """An inline SVG chart under a caption."""
    return (f"<figure><figcaption>{esc(caption)}</figcaption>"
            f'<svg width="{width}" height="{height}" role="img">'
            f'{"".join(content)}</svg></figure>')


def bars(caption: str, values: dict[str, float]) -> str:
    """Horizontal bars, one per label, scaled to the largest value; nothing for no values."""
    if not values:
        return ""
    top = max(abs(v) for v in values.values()) or 1.0
    rows = []
    for i, (label, value) in enumerate(values.items()):
        width = 300 * abs(value) / top
        y = 22 * i + 5
        rows.append(
            f'<text x="0" y="{y + 14}" font-size="12">{esc(label)}</text>'
            f'<rect x="150" y="{y}" width="{width:.1f}" height="16" fill="{BLUE}"/>'
            f'<text x="{155 + width:.1f}" y="{y + 13}" font-size="11">{esc(fmt(value))}</text>'
        )
    return figure(caption, 520, 22 * len(values) + 10, rows)


def page(title: str, body: Iterable[str]) -> str:
    """A whole HTML document: the title as heading, then ``body``."""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'/><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>{''.join(body)}</body></html>")
