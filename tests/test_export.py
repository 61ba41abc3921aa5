"""Exports keep their structure whatever the data holds, and are written safely.

The Markdown is checked with a real CommonMark parser (markdown-it-py): one ``h1``, one
``h2`` per paper showing exactly its title, no raw HTML, no open code fence, whatever the
titles, digest names, links, tags and notes contain. Hostile titles come in through a real
digest; what import would neutralise (escape sequences) and what it cannot produce
(non-http links, odd tags) is written straight into the library files (a digest file,
the journal), as an older release or another program could have.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from readinglist import storage
from readinglist.errors import ReadinglistError
from readinglist.export import (
    PAPER_LEVEL,
    code_span,
    escape,
    export,
    link,
    note_markdown,
    note_section,
    to_markdown,
    write_export,
)
from readinglist.journal import CHANGE, Op
from readinglist.library import Library
from readinglist.model import normalise_tag, plural
from readinglist.safetext import UNSAFE_RE, printable_line
from tests.libhelpers import (
    FaultyOS,
    edit_journals,
    imported_digest_files,
    rename_to_hash,
    snapshot,
    write_entry,
)

MD = MarkdownIt("commonmark")
EVIL = "Evil \x1b]0;PWNED\x07 \x1b[2J \x9b31m \u202ereversed\u202c z\u200bw \x7f"

#: Titles of the hostile digest (import keeps them as they are: no control characters).
TITLES = [
    "Q&A &amp; Tables: <img src=x onerror=alert(1)> for *all* _of_ us",
    "# not a heading, `code`, ``double``, [link](javascript:alert(1)) | a\\b ~~s~~ $x$ ##",
    "</details><script>alert(1)</script> snake_case_name",
    "- a list marker, 1. an ordered one, > a quote, === and --- and ```",
    "<!-- an unclosed comment and <pre> an unclosed pre",
]
ABSTRACT = "We study what happens when data is treated as code, and show that it should not be."
DIGEST_NAME = "<b>digest <img src=x onerror=alert(1)> *x* [y](z) &amp; `q` _u_"

NOTES = {
    "forged": "## Forged heading\n\n# Forged title\nbody ## not a closing sequence",
    "setext": "Setext one\n===\n\nSetext two\n---\n\n> quoted\n> ===",
    "fence": "```python\nprint('<b>kept</b>')\n## still code",
    "tilde": "~~~~ text\nunclosed, as ~~~ is too short\n~~~",
    "html": (
        "</details><script>alert(1)</script>\n\n"
        "<img src=x onerror=alert(1)> and `<b>kept</b>` and <https://example.org/a>"
    ),
    "comment": "<!-- never closed\n\n# after the comment",
    "pre": "<pre>\nnever closed",
    "indented": "    indented code <b>kept</b>\n\n- item",
    "list": "- looks like metadata\n- **Status:** forged",
    "evil": f"note {EVIL}\r\nwindows line\x1b[2J",
}


def walk(tokens: list[Token]) -> list[Token]:
    """Block tokens and their inline children, in order."""
    return [t for token in tokens for t in (token, *(token.children or ()))]


def visible(inline: Token) -> str:
    return "".join(c.content for c in inline.children or () if c.type in {"text", "code_inline"})


def fence_closed(token: Token, lines: list[str]) -> bool:
    assert token.map is not None
    start, end = token.map
    marker = f"{re.escape(token.markup[0])}{{{len(token.markup)},}}"
    return end - 1 > start and re.fullmatch(rf" {{0,3}}{marker}[ \t]*", lines[end - 1]) is not None


def check_structure(markdown: str, titles: list[str]) -> list[Token]:
    """The export's invariants; returns its tokens for further checks."""
    assert not UNSAFE_RE.search(markdown)
    tokens = MD.parse(markdown)
    lines = markdown.split("\n")
    headings = [(t, tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [visible(inline) for t, inline in headings if t.tag == "h1"] == ["Reading notes"]
    papers = [(t, inline) for t, inline in headings if t.tag == "h2"]
    assert all(t.level == 0 for t, _ in papers)  # top level: not inside a list or quote
    # Exactly the title, as plain text (no emphasis, code, link or entity made of it).
    assert all({c.type for c in inline.children or ()} <= {"text"} for _, inline in papers)
    expected = [printable_line(t).strip() for t in titles]
    assert [visible(inline) for _, inline in papers] == expected
    assert not [t for t in walk(tokens) if t.type in {"html_block", "html_inline"}]
    fences = [t for t in tokens if t.type == "fence" and t.level == 0]
    assert all(fence_closed(t, lines) for t in fences)
    return tokens


def sections(tokens: list[Token]) -> list[list[Token]]:
    """The tokens of each paper, from its h2 to the next."""
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    return [tokens[a:b] for a, b in zip(starts, [*starts[1:], len(tokens)], strict=True)]


def metadata(section: list[Token]) -> list[str]:
    """The items of the paper's metadata list (the first top-level list of its section)."""
    start = next(i for i, t in enumerate(section) if t.type == "bullet_list_open")
    end = next(i for i, t in enumerate(section) if t.type == "bullet_list_close" and i > start)
    return [
        "".join(c.content for c in t.children or () if c.type in {"text", "code_inline"})
        for t in section[start:end]
        if t.type == "inline"
    ]


# ---------------------------------------------------------------------------- library


@pytest.fixture
def hostile(tmp_path: Path, digest_paths: list[Path]) -> Library:
    """Two real digests, one hostile digest, then hostile data written into the files."""
    digest = tmp_path / f"{DIGEST_NAME}.txt"
    digest.write_text(
        "Mar 14\n\n"
        + "".join(
            f"{title}\n\n{ABSTRACT} Code: https://example.org/{n}_(b)*c_.\n\n"
            for n, title in enumerate(TITLES)
        ),
        encoding="utf-8",
    )
    data_dir = tmp_path / "lib"
    library = Library(data_dir)
    assert library.import_files([*digest_paths[:2], digest]).ok
    ours = [pid for pid, paper in library.papers.items() if paper.title in TITLES]
    real = [pid for pid in library.ordered() if pid not in ours][-5:]
    assert len(ours) == len(TITLES)
    for note, pid in zip(NOTES.values(), [*ours, *real], strict=False):
        library.set_note(pid, note)
    library.tag([ours[0]], add=["ok"])

    # The hostile digest's file, rewritten (and named by its new bytes) by another program:
    # a title import would have neutralised, links it cannot produce, a poisoned name.
    path = imported_digest_files(data_dir)[-1]
    content = orjson.loads(path.read_bytes())
    docs = {doc["title"]: doc for doc in content["papers"].values()}
    # A document naming its id (as an upgraded library's do) keeps its notes and tags.
    docs[TITLES[1]].update(id=ours[1], title=f"[/INST] {EVIL} <b>bold</b>")
    docs[TITLES[2]]["links"] = [
        "javascript:alert(1)",
        "https://ok.example/a_b*c",
        "https://x.example/> <script>alert(1)</script>",
        "data:text/html,<b>x</b>",
    ]
    new = rename_to_hash(path, orjson.dumps(content)).stem

    def rename(data: dict[str, Any]) -> bool:
        records = [e["import"] for e in data["changes"].values() if "import" in e]
        for record in records:
            if record["hash"] == new:
                record["name"] = f"{DIGEST_NAME} {EVIL}"
        return any(record["hash"] == new for record in records)

    edit_journals(data_dir, rename)
    odd_tags = ["<b>tag</b>", "a`b", "`", "*x*", f"t{EVIL}"]
    ops = [Op(ours[0], f"tag:{tag}", False, True) for tag in odd_tags]
    write_entry(data_dir, CHANGE, "odd tags", ops)
    reopened = Library(data_dir)
    # Read as readinglist would have written them; "`" has no word to keep, so stays as is.
    assert reopened.state(ours[0]).tags == ("ok", *(normalise_tag(t) or t for t in odd_tags))
    assert "`" in reopened.state(ours[0]).tags
    assert reopened.papers[ours[1]].title == f"[/INST] {EVIL} <b>bold</b>"
    assert reopened.papers[ours[2]].links[0] == "javascript:alert(1)"
    return reopened


def noted(library: Library) -> list[str]:
    return [pid for pid in library.query("") if library.state(pid).note]


def test_markdown_keeps_its_structure(hostile: Library) -> None:
    ids = noted(hostile)
    assert len(ids) == len(NOTES)
    markdown = to_markdown(hostile, ids)
    tokens = check_structure(markdown, [hostile.papers[pid].title for pid in ids])

    # Every paper's metadata list is whole: no note item joined it, the last item is the id.
    for pid, section in zip(ids, sections(tokens), strict=True):
        items = metadata(section)
        assert items[0].startswith("Seen in ") and items[-1] == f"Id: {pid}"
        assert not [i for i in items if "forged" in i or "looks like" in i]

    # Notes keep their Markdown, one level down, and their code untouched.
    headings = {
        visible(tokens[i + 1]): t.tag for i, t in enumerate(tokens) if t.type == "heading_open"
    }
    assert headings["Forged heading"] == "h4" and headings["Forged title"] == "h3"
    assert headings["Setext one"] == "h3" and headings["Setext two"] == "h4"
    assert headings["quoted"] == "h3" and headings["after the comment"] == "h3"
    code = {t.content for t in walk(tokens) if t.type in {"fence", "code_block", "code_inline"}}
    assert "print('<b>kept</b>')\n## still code\n" in code
    assert "indented code <b>kept</b>\n" in code and "<b>kept</b>" in code
    text = "".join(t.content for t in walk(tokens) if t.type == "text")
    assert "</details><script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(1)> and " in text and "<pre>" in text
    assert f"note {printable_line(EVIL)}" in text and "windows line␛[2J" in text

    # Only http(s) links are links; the rest, digest names and tags are shown as text.
    hrefs = [t.attrs["href"] for t in walk(tokens) if t.type == "link_open"]
    assert "https://ok.example/a_b*c" in hrefs and "https://example.org/a" in hrefs
    assert not [h for h in hrefs if not h.startswith("https://")]
    assert "javascript:alert(1)" in text and "https://x.example/> <script>alert(1)</script>" in text
    assert f"Mar 14 ({DIGEST_NAME} {printable_line(EVIL)})" in text
    tags = [t.content for t in walk(tokens) if t.type == "code_inline"]
    odd = {t for pid in ids for t in hostile.state(pid).tags}
    assert "`" in odd and {"ok", *odd} <= set(tags)


def test_the_existing_layout_is_kept(hostile: Library) -> None:
    pid = noted(hostile)[-1]  # a real paper with a plain note
    hostile.set_note(pid, "Key idea: *weight matching*.")
    markdown = to_markdown(hostile, [pid])
    paper, digests = hostile.papers[pid], hostile.digest_list(pid)
    labels = ", ".join(d.label for d in digests)
    assert markdown.startswith("# Reading notes\n\n_Exported from readinglist on ")
    seen = plural(paper.seen, "digest")
    assert f"\n## {paper.title}\n\n- **Seen in {seen}:** {labels}\n" in markdown
    assert "_" in labels  # 000_88429e94ceb0c524 stays readable
    assert markdown.endswith(f"- **Id:** `{pid}`\n\nKey idea: *weight matching*.\n")


def test_json_escapes_unsafe_characters_and_keeps_the_data(hostile: Library) -> None:
    ids = noted(hostile)
    text = export(hostile, ids, "json")
    for char in ("\x7f", "\x9b", "\u202e", "\u200b", "\x1b"):
        assert char not in text
    assert not UNSAFE_RE.search(text)
    data = json.loads(text)
    assert [paper["title"] for paper in data] == [hostile.papers[pid].title for pid in ids]
    assert any(EVIL in paper["title"] for paper in data)
    assert [paper["note"] for paper in data] == [hostile.state(pid).note for pid in ids]


# ---------------------------------------------------------------------- any text at all

PIECES = st.sampled_from(
    [
        "# h",
        "## h",
        "###### h",
        "===",
        "---",
        "```",
        "````",
        "~~~",
        "    code",
        "   # three",
        "> ",
        "- ",
        "1. ",
        "  ",
        "\t",
        "<div>",
        "</details>",
        "<script>",
        "<!--",
        "-->",
        "<pre>",
        "<?",
        "<![CDATA[",
        "`",
        "``",
        "<img src=x onerror=y>",
        "[a](b`c)",
        "\\",
        "text",
        "<https://x.y/>",
        "[x]: /url",
        "&lt;",
        "\x1b[2J",
    ]
)
LINE = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=4).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(LINE, max_size=12).map("\n".join))
def test_no_note_breaks_out_of_its_paper(note: str) -> None:
    lines = ["# Reading notes", "", "## A", "", "- **Id:** `a`", "", *note_section(note), "## B"]
    tokens = check_structure("\n".join(lines) + "\n", ["A", "B"])
    assert metadata(sections(tokens)[0]) == ["Id: a"]
    assert all(int(t.tag[1]) > PAPER_LEVEL for t in tokens[6:-3] if t.type == "heading_open")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_a_title_is_exactly_its_text(title: str) -> None:
    check_structure(f"# Reading notes\n\n## {escape(title)}\n", [title])


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_a_code_span_is_exactly_its_text(text: str) -> None:
    (paragraph,) = [t for t in MD.parse(f"x {code_span(text)}") if t.type == "inline"]
    assert [c.type for c in paragraph.children or ()] == ["text", "code_inline"]
    assert (paragraph.children or [])[1].content == printable_line(text)


def test_html_the_quick_scan_misses_is_still_escaped() -> None:
    """A backtick in a link destination is no code span: the second round escapes it all."""
    assert note_markdown("[a](b`c) <img src=x> `") == "[a](b`c) \\<img src=x> `"
    assert note_markdown("`<b>` <i>") == "`<b>` \\<i>"  # the code span is kept as it is


def test_a_note_that_cannot_be_made_safe_becomes_a_code_block() -> None:
    """Under a level-6 heading nothing can be demoted: the note is shown verbatim instead."""
    assert note_markdown("# a\n```` b", level=6) == "`````\n# a\n```` b\n`````"
    assert note_markdown("plain *text*", level=6) == "plain *text*"


def test_links() -> None:
    assert link("https://a.example/x_(y)*z") == "<https://a.example/x_(y)*z>"
    for hostile in ("javascript:alert(1)", "https://x/> <b>", "https://x/\x1b[2J y", "ftp://x"):
        rendered = link(hostile)
        assert not rendered.startswith("<")
        tokens = walk(MD.parse(rendered))
        assert [t.type for t in tokens if t.type.endswith("_open")] == ["paragraph_open"]
        assert visible(tokens[1]) == printable_line(hostile)


# ------------------------------------------------------------------------------ writing


@pytest.fixture
def lib_dir(tmp_path: Path, digest_paths: list[Path]) -> Path:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    library.set_note(library.ordered()[0], "a note")
    return library.data_dir


TEXT = "# Reading notes\n\nnon-ASCII ✓ stays UTF-8\n"


def names(folder: Path) -> list[str]:
    """The files in ``folder`` but the test's own config and state folders (conftest)."""
    own = {Path(os.environ[v]).name for v in ("READINGLIST_CONFIG_DIR", "READINGLIST_STATE_DIR")}
    return sorted(p.name for p in folder.iterdir() if p.name not in own)


def test_writes_the_exact_text(tmp_path: Path, lib_dir: Path) -> None:
    target = tmp_path / "notes.md"
    write_export(target, TEXT, lib_dir)
    assert target.read_bytes() == TEXT.encode()
    target.chmod(0o644)
    write_export(target, TEXT + "again\n", lib_dir)  # replaces, keeping the file's mode
    assert target.read_bytes() == (TEXT + "again\n").encode()
    assert target.stat().st_mode & 0o777 == 0o644
    # A symlink is followed: the file it names is replaced, the link stays.
    link_path = tmp_path / "link.md"
    link_path.symlink_to(target)
    write_export(link_path, "via link\n", lib_dir)
    assert link_path.is_symlink() and target.read_text() == "via link\n"
    assert names(tmp_path) == ["lib", "link.md", "notes.md"]


def refused(path: Path, data_dir: Path, reason: str) -> None:
    with pytest.raises(ReadinglistError) as error:
        write_export(path, TEXT, data_dir)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and reason in message and "\n" not in message


def test_refuses_the_library_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lib_dir: Path
) -> None:
    before = snapshot(lib_dir)
    (digest_file,) = [name for name in before if name.startswith("digests/")]
    (journal,) = [n for n in before if n.startswith("journals/") and n.endswith(".json")]
    assert {journal, "state.json", "catalog.bin"} <= before.keys()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "lib-link").symlink_to(lib_dir)
    (tmp_path / "out.md").symlink_to(lib_dir / journal)
    for path in (
        lib_dir / journal,
        lib_dir / "journals" / "0123456789abcdef.json",
        lib_dir / "journals",
        lib_dir / "state.json",
        lib_dir / "catalog.bin",
        lib_dir / digest_file,
        lib_dir / "digests" / "new.md",
        lib_dir / "new.md",
        lib_dir / "drafts" / "new.md",
        tmp_path / "elsewhere" / ".." / "lib" / journal,
        tmp_path / "lib-link" / journal,
        tmp_path / "out.md",
        lib_dir,
    ):
        refused(path, lib_dir, "is inside the library folder")
        assert snapshot(lib_dir) == before, path
    # A relative data dir is the same folder.
    monkeypatch.chdir(tmp_path)
    refused(lib_dir / journal, Path("lib"), "is inside the library folder")
    assert snapshot(lib_dir) == before


def test_refuses_a_directory_and_a_special_file(tmp_path: Path, lib_dir: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    refused(folder, lib_dir, "is a directory")
    assert list(folder.iterdir()) == []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused(fifo, lib_dir, "is not a regular file")
    assert fifo.is_fifo()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, lib_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    refused(blocker / "notes.md", lib_dir, "cannot write the export (Not a directory)")
    refused(tmp_path / "missing" / "notes.md", lib_dir, "nothing was written")
    assert names(tmp_path) == ["file", "lib"]


def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path: Path, lib_dir: Path) -> None:
    """The kernel refuses to grow files past RLIMIT_FSIZE (even for root): a real failure."""
    target = tmp_path / "notes.md"
    target.write_bytes(b"the old export\n")
    script = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from readinglist.errors import ReadinglistError
        from readinglist.export import write_export

        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            write_export(Path(sys.argv[1]), "x" * 100_000, Path(sys.argv[2]))
        except ReadinglistError as error:
            sys.exit(str(error))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target), str(lib_dir)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"{target}: cannot write the export (File too large); "
        "the existing file was left unchanged\n"
    )
    assert target.read_bytes() == b"the old export\n"
    assert names(tmp_path) == ["lib", "notes.md"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_full_disk_and_an_unsynced_folder_are_told_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lib_dir: Path, code: int
) -> None:
    target = tmp_path / "notes.md"
    target.write_bytes(b"old\n")
    if code == errno.ENOSPC:  # the disk fills up while writing the temp file
        monkeypatch.setattr(storage, "os", FaultyOS(("write",), code))
    else:  # the file is in place, only the folder's fsync fails
        monkeypatch.setattr(storage, "os", FaultyOS(("fsync",), code, nth=2))
    with pytest.raises(ReadinglistError) as error:
        write_export(target, TEXT, lib_dir)
    if code == errno.ENOSPC:
        assert str(error.value) == (
            f"{target}: cannot write the export (No space left on device); "
            "the existing file was left unchanged"
        )
        assert target.read_bytes() == b"old\n"
    else:
        assert str(error.value).startswith(f"{target}: written, but the folder could not be")
        assert target.read_bytes() == TEXT.encode()
    assert names(tmp_path) == ["lib", "notes.md"]
