"""The CLI contract: import → mark/tag/note → list --json → export, exit codes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from readinglist.cli import main
from readinglist.cliargs import build_parser, parse_args
from readinglist.device import this_device
from readinglist.library import Library
from readinglist.safetext import indented_json, json_array
from tests.libhelpers import journal_file, snapshot

TOP = "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching"


def cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, digest_paths: list[Path], capsys: pytest.CaptureFixture[str]) -> Path:
    folder = digest_paths[0].parent
    code, out, _ = cli(capsys, tmp_path / "lib", "import", str(folder))
    assert code == 0
    assert (
        out.splitlines()[-1]
        == "5 of 5 files imported, 751 new papers; the library holds 751 papers."
    )
    return tmp_path / "lib"


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 9])
def test_a_json_array_written_in_parts_is_the_whole_dump(count: int) -> None:
    items = [
        {"n": n, "text": f"é{n}\u202e\x85\x07 [/INST]", "list": [n, None]} for n in range(count)
    ]
    assert "".join(json_array(items, batch=4)) == indented_json(items)
    assert json.loads("".join(json_array(items, batch=4))) == items


def test_list_json_of_the_whole_library_is_every_paper(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """``list --json`` writes its array a few hundred papers at a time: the same text."""
    code, out, _ = cli(capsys, data_dir, "list", "--json")
    library = Library(data_dir)
    assert code == 0 and out == indented_json(library.papers_json(library.ordered())) + "\n"
    assert len(json.loads(out)) == 751


def test_round_trip(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    code, out, _ = cli(capsys, data_dir, "list", "--json", "--limit", "3")
    papers = json.loads(out)
    assert code == 0 and len(papers) == 3
    top = papers[0]
    assert (top["title"], top["seen"], top["read"], top["tags"], top["note"]) == (
        TOP,
        4,
        False,
        [],
        "",
    )
    assert {"id", "abstract", "digests", "links"} <= top.keys()
    assert {"name": "000_88429e94ceb0c524", "date": "Mar 13"} in top["digests"]

    pid = top["id"]
    assert cli(capsys, data_dir, "mark", pid[:6])[1] == "mark 1 paper read.\n"
    assert (
        cli(capsys, data_dir, "tag", pid, papers[1]["id"], "--add", "lmc", "--add", "theory")[0]
        == 0
    )
    assert cli(capsys, data_dir, "tag", papers[1]["id"], "--remove", "theory")[0] == 0
    assert cli(capsys, data_dir, "note", pid, "--set", "Key idea: *weight matching*.")[0] == 0

    listed = json.loads(cli(capsys, data_dir, "list", "--json", "--limit", "2")[1])
    assert (listed[0]["read"], listed[0]["tags"], listed[0]["note"]) == (
        True,
        ["lmc", "theory"],
        "Key idea: *weight matching*.",
    )
    assert listed[1]["tags"] == ["lmc"]

    out_file = tmp_path / "notes.md"
    code, _, err = cli(capsys, data_dir, "export", "-o", str(out_file))
    markdown = out_file.read_text()
    assert code == 0 and "wrote 1 paper to" in err
    assert markdown.startswith("# Reading notes\n")
    assert f"## {TOP}\n" in markdown
    assert "- **Seen in 4 digests:** " in markdown and "Mar 13 (000_88429e94ceb0c524)" in markdown
    assert "- **Tags:** `lmc` `theory`" in markdown
    assert "Key idea: *weight matching*." in markdown
    assert markdown.count("## ") == 1

    exported = json.loads(cli(capsys, data_dir, "export", "--all", "--format", "json")[1])
    assert len(exported) == 751

    code, out, _ = cli(capsys, data_dir, "stats", "--json")
    stats = json.loads(out)
    assert (
        stats["papers"],
        stats["read"],
        stats["noted"],
        stats["tagged"],
        stats["recurring"],
    ) == (751, 1, 1, 2, 51)

    assert cli(capsys, data_dir, "undo")[1] == "undo edit note.\n"
    assert json.loads(cli(capsys, data_dir, "list", "--json", "--limit", "1")[1])[0]["note"] == ""


def test_list_filters_and_ids(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = cli(capsys, data_dir, "list", "mamba", "--ids")
    ids = out.split()
    assert code == 0 and ids
    titles = [json.loads(cli(capsys, data_dir, "show", pid, "--json")[1])["title"] for pid in ids]
    assert all("mamba" in t.lower() for t in titles)


def test_bad_inputs_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(data_dir)
    binary = tmp_path / "img.txt"
    binary.write_bytes(b"\x89PNG\0\0\0")
    code, _, err = cli(capsys, data_dir, "import", str(binary), str(tmp_path / "nope.txt"))
    assert code == 1
    assert err.splitlines() == [
        f"readinglist: {binary}: binary file (NUL byte at offset 4); not a digest",
        f"readinglist: {tmp_path / 'nope.txt'}: no such file",
    ]
    assert snapshot(data_dir) == before
    code, _, err = cli(capsys, data_dir, "mark", "ffffffffffff")
    assert (
        code == 1
        and err == "readinglist: 'ffffffffffff': no paper has this id (see `readinglist list`)\n"
    )


def test_import_from_stdin_and_corrupt_library(tmp_path: Path, digest_paths: list[Path]) -> None:
    env_dir = tmp_path / "lib"
    run = [sys.executable, "-m", "readinglist", "--data-dir", str(env_dir)]  # as installed
    done = subprocess.run(
        [*run, "import", "-"], input=digest_paths[0].read_bytes(), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert b"<stdin>: 74 papers (spaced layout): 74 new" in done.stdout
    journal = journal_file(env_dir)  # the child's device is this test's (its config dir)
    journal.write_bytes(b'{"meta": ')
    before = snapshot(env_dir)
    done = subprocess.run([*run, "list"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith(f"readinglist: {journal}: not valid JSON")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert snapshot(env_dir) == before  # the damaged file is left as it is, nothing rebuilt


def test_a_command_started_with_the_collector_off_turns_it_back_on(tmp_path: Path) -> None:
    """``readinglist.__main__`` starts with the cyclic GC off; a command's own work (say an
    import of many files) runs with it on."""
    script = (
        "import gc, sys\n"
        "gc.disable()\n"
        "from readinglist import cli\n"
        "run = cli._main\n"
        "cli._main = lambda args: print('collecting:', gc.isenabled(), flush=True) or run(args)\n"
        "sys.argv = ['readinglist', '--data-dir', sys.argv[1], 'list']\n"
        "cli.entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lib")], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, "collecting: True"), done.stderr


@pytest.mark.parametrize(
    "argv", [[], ["--demo"], ["--data-dir", "lib"], ["--data-dir=lib", "--demo"], ["list"]]
)
def test_the_app_s_options_parse_as_the_whole_grammar_parses_them(argv: list[str]) -> None:
    """Without a command only the options are parsed (the app's start), to the same result."""
    assert parse_args(argv) == build_parser().parse_args(argv)


@pytest.mark.parametrize("argv", [["--d", "x"], ["--data-dir"], ["--data-dir", ""], ["--="]])
def test_a_mistake_in_the_app_s_options_is_told_by_the_whole_grammar(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as whole:
        build_parser().parse_args(argv)
    expected = capsys.readouterr().err
    with pytest.raises(SystemExit) as options:
        parse_args(argv)
    assert (options.value.code, capsys.readouterr().err) == (whole.value.code, expected)
    assert whole.value.code == 2 and "COMMAND ..." in expected


def test_usage_errors_exit_2_and_help_is_complete() -> None:
    run = [sys.executable, "-m", "readinglist.cli"]
    assert subprocess.run([*run, "frobnicate"], capture_output=True).returncode == 2
    assert subprocess.run([*run, "list", "--limit", "0"], capture_output=True).returncode == 2
    helptext = subprocess.run([*run, "--help"], capture_output=True, text=True).stdout
    for command in (
        "import",
        "list",
        "mark",
        "tag",
        "note",
        "export",
        "stats",
        "undo",
        "--data-dir",
        "--demo",
    ):
        assert command in helptext


def test_environment_variable_sets_the_data_dir(tmp_path: Path, digest_paths: list[Path]) -> None:
    config = tmp_path / "bare-config"  # this device's identity, never the real home's
    env = {
        "READINGLIST_DATA_DIR": str(tmp_path / "envlib"),
        "READINGLIST_CONFIG_DIR": str(config),
        "READINGLIST_STATE_DIR": str(tmp_path / "bare-state"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "readinglist.cli", "import", str(digest_paths[1])],
        capture_output=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    device = this_device(config)
    assert [p.name for p in (tmp_path / "envlib" / "journals").iterdir()] == [f"{device.id}.json"]
    assert (tmp_path / "envlib" / "state.json").exists()
    for old in ("papers.json", "imports.json"):  # the old layouts are not written
        assert not (tmp_path / "envlib" / old).exists()


def test_a_bulk_import_shows_progress_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    digest_paths: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = digest_paths[0].parent
    code, _, err = cli(capsys, tmp_path / "a", "import", str(folder))
    assert code == 0 and "importing" not in err  # not a terminal: no progress line
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = cli(capsys, tmp_path / "b", "import", str(folder))
    assert code == 0
    total = len(digest_paths)
    assert f"importing 1/{total}: " in err and f"importing {total}/{total}: " in err
    assert err.endswith("\r\x1b[K") and f"importing {total + 1}/" not in err


def test_an_import_of_one_paper_says_1_paper(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    """An import's line words its count as every message does (``model.plural``)."""
    (digest := tmp_path / "one.txt").write_text("A Paper Alone\nOnly one here.\n")
    code, out, _ = cli(capsys, data_dir, "import", str(digest))
    assert code == 0 and out.splitlines()[0] == (
        f"{digest}: 1 paper (compact layout): 1 new, 0 seen again"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_output_that_cannot_be_written_is_one_line(data_dir: Path, unbuffered: str) -> None:
    """A full disk (``/dev/full``) under the output: one line saying so and status 1,
    whether the output is written at once or when the command ends."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "readinglist.cli", "--data-dir", str(data_dir), "list"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    assert done.returncode == 1
    assert done.stderr == "readinglist: could not write the output (No space left on device)\n"
