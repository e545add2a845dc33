"""The demo's HTML report: one section per phase, tables and small inline charts.

Self-contained HTML (no scripts, no network): charts are inline SVG bars
(``crispml.core.htmlpage``, shared with the evaluation reports), so the report
opens anywhere, offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispml.core.htmlpage import bars, esc, page, table


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    bars: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    #: (text, href) pairs: files beside the report (an evaluation's own report), linked by relative path.
    links: list[tuple[str, str]] = field(default_factory=list)


def write_report(path: Path, title: str, sections: list[Section]) -> Path:
    parts = []
    for section in sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{esc(section.text)}</p>")
        if section.links:
            parts.append("<ul>" + "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>'
                                          for text, href in section.links) + "</ul>")
        parts += [bars(c, v) for c, v in section.bars]
        parts += [table(c, rows) for c, rows in section.tables]
        parts.append("</section>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, parts), encoding="utf-8")
    return path
