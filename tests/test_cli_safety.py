"""The CLI's output is text for a terminal: whatever a library file holds, no escape
sequence, control or bidi character reaches stdout or stderr raw; JSON stays the data.

Escape sequences cannot come in through import (it neutralises them), so the tests write
them straight into a digest file and the journal (an import entry), as another program
could have.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from readinglist import contents, journal
from readinglist.cli import main
from readinglist.library import Library
from readinglist.model import paper_id, title_key
from tests.libhelpers import write_entry

EVIL = (
    "Evil \x1b]0;PWNED\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07 \x9b31m \u202ereversed\u202c "
    "z\u200bw \x7f"
)
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\x7f")


@pytest.fixture
def evil_library(library: Library) -> tuple[Path, str]:
    """The real library plus a digest file another program wrote: one paper whose title and
    abstract are poisoned, in a digest whose name is; and a poisoned note on that paper."""
    data_dir = library.data_dir
    title = f"[/INST] {EVIL}"
    doc = {"title": title, "abstract": f"[@click=app.quit] {EVIL}", "links": []}
    name, payload = contents.encode("0123456789abcdef", "Mar 14", "spaced", False, [doc])
    contents.write(data_dir, name, payload)
    record = {
        "hash": name,
        "digest": "0123456789abcdef",
        "name": f"digest {EVIL}",
        "date": "Mar 14",
    }
    write_entry(data_dir, journal.IMPORT, f"import {EVIL}", record=record)
    pid = paper_id(title_key(title))
    opened = Library(data_dir)
    assert opened.papers[pid].title == title
    opened.set_note(pid, f"note {EVIL}\nline two")
    return data_dir, pid


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_safe(text: str) -> None:
    for char in RAW:
        assert char not in text, f"{char!r} reached the terminal"


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["list", "evil"],
        ["show", "{pid}"],
        ["note", "{pid}"],
        ["stats"],
        ["export", "--all", "evil"],
    ],
)
def test_no_control_character_reaches_the_terminal(
    evil_library: tuple[Path, str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    data_dir, pid = evil_library
    argv = [part.format(pid=pid) for part in command]
    code, out, err = run(capsys, "--data-dir", str(data_dir), *argv)
    assert code == 0, err
    assert_safe(out + err)
    assert "␛]0;PWNED␇" in out or (command == ["stats"] and "␛" in out)


def test_json_escapes_unsafe_characters_but_keeps_the_data(
    evil_library: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, pid = evil_library
    for argv in (["list", "--json", "evil"], ["show", "--json", pid]):
        code, out, _ = run(capsys, "--data-dir", str(data_dir), *argv)
        assert code == 0
        assert_safe(out)
        parsed = json.loads(out)
        paper = parsed[0] if isinstance(parsed, list) else parsed
        assert paper["title"] == f"[/INST] {EVIL}"
        assert paper["note"] == f"note {EVIL}\nline two"
        assert paper["abstract"] == f"[@click=app.quit] {EVIL}"  # read from its digest file
        assert paper["digests"] == [{"name": f"digest {EVIL}", "date": "Mar 14"}]


def test_a_hostile_file_name_is_shown_inert(
    tmp_path: Path, digest_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    name = tmp_path / "daily\x1b]0;PWNED\x07.txt"
    name.write_bytes(digest_paths[0].read_bytes())
    bad = tmp_path / "bad\x1b[2J.txt"
    bad.write_text("Mar 13\n\nOrphan title\n")
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "lib"), "import", str(name), str(bad))
    assert code == 1
    assert_safe(out + err)
    assert "daily␛]0;PWNED␇.txt" in out and "bad␛[2J.txt" in err


def test_contract_fixes(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(library.data_dir)
    pid = library.ordered()[0]
    # `tag` with nothing to do is a usage error, not a help page with status 0.
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", data_dir, "tag", pid])
    assert exit_info.value.code == 2
    assert "--add" in capsys.readouterr().err
    # --data-dir after the command works, and an empty one is refused.
    code, out, _ = run(capsys, "list", "--data-dir", data_dir, "--limit", "1")
    assert code == 0 and out.startswith(pid)
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", "", "list"])
    assert exit_info.value.code == 2
    # A query starting with `-` after `--`.
    library.tag([pid], add=["done"])
    code, out, _ = run(capsys, "--data-dir", data_dir, "list", "--ids", "--", "-tag:done")
    assert code == 0 and pid not in out.split() and len(out.split()) == len(library.papers) - 1
    # Counts are worded by model.plural.
    target = tmp_path / "one.md"
    library.set_note(pid, "a note")
    code, _, err = run(capsys, "--data-dir", data_dir, "export", "-o", str(target))
    assert code == 0 and f"wrote 1 paper to {target}" in err
