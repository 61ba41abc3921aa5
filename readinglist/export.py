"""Notes out of the library: Markdown that reads well on GitHub and in Obsidian, or JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson

from readinglist.library import Library
from readinglist.model import now, plural

FORMATS = ("markdown", "json")
_MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>#|])")


def export(library: Library, ids: Sequence[str], fmt: str = "markdown") -> str:
    if fmt == "json":
        return (
            orjson.dumps([library.to_json(pid) for pid in ids], option=orjson.OPT_INDENT_2).decode()
            + "\n"
        )
    return to_markdown(library, ids)


def to_markdown(library: Library, ids: Sequence[str]) -> str:
    parts = [
        "# Reading notes",
        "",
        f"_Exported from readinglist on {now()[:10]}: {plural(len(ids), 'paper')}._",
        "",
    ]
    for pid in ids:
        parts += _paper_section(library, pid)
    return "\n".join(parts).rstrip() + "\n"


def _paper_section(library: Library, pid: str) -> list[str]:
    paper, state = library.papers[pid], library.state(pid)
    digests = ", ".join(d.label for d in library.digest_list(pid))
    seen = plural(paper.seen, "digest")
    lines = [
        f"## {escape(paper.title)}",
        "",
        f"- **Seen in {seen}:** {digests}",
        f"- **Status:** {state.status}",
    ]
    if state.tags:
        lines.append("- **Tags:** " + " ".join(f"`{tag}`" for tag in state.tags))
    if paper.links:
        lines.append("- **Links:** " + " ".join(f"<{link}>" for link in paper.links))
    lines.append(f"- **Id:** `{pid}`")
    lines.append("")
    if state.note:
        lines += [state.note, ""]
    return lines


def escape(text: str) -> str:
    """Escape what Markdown would otherwise treat as formatting in a title."""
    return _MD_SPECIAL_RE.sub(r"\\\1", text)
