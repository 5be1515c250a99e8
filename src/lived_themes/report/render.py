"""Render report blocks twice, as Markdown and as one self-contained HTML page, so the two never disagree."""

from __future__ import annotations

import base64
import html as _html
import re
from pathlib import Path

from lived_themes.report.blocks import MISSING, Block, Figure, Table

CONTENTS = "Contents"


def anchors(blocks: list[Block]) -> dict[int, tuple[str, str]]:
    """Block index -> (id, title) for every section heading (h2), ids unique, for the table of contents."""
    out, seen = {}, set()
    for i, b in enumerate(blocks):
        if isinstance(b, tuple) and b[0] == "h2":
            # "sec-" keeps section ids apart from table ids ("headline" is a table's)
            base = "sec-" + (re.sub(r"[^a-z0-9]+", "-", str(b[1]).lower()).strip("-") or "x")
            anchor, n = base, 1
            while anchor in seen:
                n += 1
                anchor = f"{base}-{n}"
            seen.add(anchor)
            out[i] = (anchor, str(b[1]))
    return out


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(t: Table) -> str:
    rows = [[f"**{_md_cell(c)}**" if (i, j) in t.bold and c != MISSING else _md_cell(c) for j, c in enumerate(r)]
            for i, r in enumerate(t.rows)]
    lines = ["| " + " | ".join(map(_md_cell, t.columns)) + " |", "|" + "---|" * len(t.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def render_markdown(blocks: list[Block], *, base: Path) -> str:
    out, sections = [], anchors(blocks)
    for i, b in enumerate(blocks):
        if i in sections:  # an explicit anchor, so the contents links work in any Markdown viewer
            out.append(f'<a id="{sections[i][0]}"></a>\n')
        if isinstance(b, Table):
            out.append((f"*{b.caption}*\n\n" if b.caption else "") + (md_table(b) if b.rows else "_No rows._\n"))
        elif isinstance(b, Figure):
            out.append(f"![{b.alt}]({b.path.relative_to(base).as_posix()})\n")
        elif b[0] in ("h1", "h2", "h3"):
            out.append("#" * int(b[0][1]) + " " + b[1] + "\n")
            if b[0] == "h1" and sections:
                links = "\n".join(f"- [{title}](#{anchor})" for anchor, title in sections.values())
                out.append(f"**{CONTENTS}**\n\n{links}\n")
        elif b[0] in ("ul", "points"):
            out.append("\n".join(f"- {x}" for x in b[1]) + "\n")
        elif b[0] == "pre":
            out.append("```yaml\n" + b[1].rstrip() + "\n```\n")
        else:
            out.append(b[1] + "\n")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#f0f0f0}
caption{text-align:left;font-style:italic;padding:.3em 0}td.best{font-weight:bold;background:#e8f4e8}
img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto}h2{border-bottom:1px solid #ddd}
nav.toc{background:#f7f7f7;border:1px solid #ddd;padding:.5em 1em;margin:1em 0;display:inline-block}
nav.toc ol{margin:.3em 0;padding-left:1.5em}ul.reading li{margin:.3em 0}"""


def render_html(blocks: list[Block]) -> str:
    """Self-contained HTML: inline CSS, figures as base64 PNG data URIs, every string escaped."""
    e, seen, body, sections = _html.escape, {}, [], anchors(blocks)
    for i, b in enumerate(blocks):
        if isinstance(b, Table):
            seen[b.kind] = seen.get(b.kind, 0) + 1
            tid = b.kind if seen[b.kind] == 1 else f"{b.kind}-{seen[b.kind]}"
            head = "".join(f"<th>{e(c)}</th>" for c in b.columns)
            best = ' class="best"'
            rows = "".join("<tr>" + "".join(f"<td{best if (i, j) in b.bold else ''}>{e(c)}</td>"
                                            for j, c in enumerate(r)) + "</tr>" for i, r in enumerate(b.rows))
            body.append(f'<table id="{tid}" class="report-table {b.kind}"><caption>{e(b.caption)}</caption>'
                        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{e(b.alt)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{e(b.alt)}</figcaption></figure>")
        elif b[0] in ("h1", "h2", "h3"):
            anchor = f' id="{sections[i][0]}"' if i in sections else ""
            body.append(f"<{b[0]}{anchor}>{e(b[1])}</{b[0]}>")
            if b[0] == "h1" and sections:
                links = "".join(f'<li><a href="#{a}">{e(t)}</a></li>' for a, t in sections.values())
                body.append(f'<nav id="contents" class="toc"><strong>{CONTENTS}</strong><ol>{links}</ol></nav>')
        elif b[0] == "points":  # the reading: never folded
            body.append('<ul class="reading">' + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>")
        elif b[0] == "ul":
            items = "<ul>" + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>"
            long = len(b[1]) > 5  # fold long warning lists; the group tables repeat the small-group ones
            body.append(f"<details><summary>{len(b[1])} items</summary>{items}</details>" if long else items)
        else:
            body.append(f"<pre>{e(b[1])}</pre>" if b[0] == "pre" else f"<p>{e(b[1])}</p>")
    title = next((b[1] for b in blocks if isinstance(b, tuple) and b[0] == "h1"), "Run report")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
