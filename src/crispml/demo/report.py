"""The demo's HTML report: one section per phase, tables and small inline charts.

Self-contained HTML (no scripts, no network): charts are inline SVG bars, so
the report opens anywhere, offline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    bars: list[tuple[str, dict[str, float]]] = field(default_factory=list)


def _table(caption: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"<p><em>{html.escape(caption)}: none</em></p>"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _bars(caption: str, values: dict[str, float]) -> str:
    if not values:
        return ""
    top = max(values.values()) or 1.0
    height = 22 * len(values) + 10
    rows = []
    for i, (label, value) in enumerate(values.items()):
        width = 300 * value / top
        y = 22 * i + 5
        rows.append(
            f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="150" y="{y}" width="{width:.1f}" height="16" fill="#3b82f6"/>'
            f'<text x="{155 + width:.1f}" y="{y + 13}" font-size="11">{_fmt(value)}</text>'
        )
    return (f"<figure><figcaption>{html.escape(caption)}</figcaption>"
            f'<svg width="520" height="{height}" role="img">{"".join(rows)}</svg></figure>')


def write_report(path: Path, title: str, sections: list[Section]) -> Path:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#111}",
        "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}",
        "td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}",
        "caption{font-weight:600;text-align:left;padding:.25rem 0}h2{border-bottom:1px solid #eee}",
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        parts += [_bars(c, v) for c, v in section.bars]
        parts += [_table(c, rows) for c, rows in section.tables]
        parts.append("</section>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
