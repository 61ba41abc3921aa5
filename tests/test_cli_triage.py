"""The triage contract from the command line: statuses, filters, views and tags."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from readinglist.cli import main
from readinglist.library import Library
from readinglist.model import day_label


def run(capsys: pytest.CaptureFixture[str], library: Library, *argv: str) -> tuple[int, str]:
    code = main(["--data-dir", str(library.data_dir), *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


def listed(capsys: pytest.CaptureFixture[str], library: Library, query: str) -> list[dict]:
    return json.loads(run(capsys, library, "list", "--json", "--", query)[1])  # type: ignore[no-any-return]


def test_each_decision_command_takes_many_ids_in_one_undo_step(
    capsys: pytest.CaptureFixture[str], library: Library
) -> None:
    a, b, c, d, e = library.ordered()[:5]
    run(capsys, library, "later", a[:6], b[:6])
    run(capsys, library, "skip", c)
    run(capsys, library, "snooze", d, "--days", "3")
    run(capsys, library, "mark", e)
    papers = {p["id"]: p for p in listed(capsys, library, "-is:new")}
    assert {pid: papers[pid]["status"] for pid in papers} == {
        a: "later",
        b: "later",
        c: "skipped",
        d: "snoozed",
        e: "read",
    }
    assert papers[d]["snoozed_until"] == str(date.today() + timedelta(days=3))
    assert "snoozed_until" not in papers[a]
    assert [papers[pid]["read"] for pid in (a, e)] == [False, True]
    assert all(p["resurfaced"] is False for p in papers.values())
    run(capsys, library, "mark", "--unread", e)
    assert Library(library.data_dir).state(e).status == "new"
    run(capsys, library, "undo")  # mark --unread
    run(capsys, library, "undo")  # mark
    run(capsys, library, "undo")  # snooze
    run(capsys, library, "undo")  # skip
    _, out = run(capsys, library, "undo")
    assert out == "undo keep 2 papers for later.\n"
    assert listed(capsys, library, "-is:new") == []


def test_status_filters(capsys: pytest.CaptureFixture[str], library: Library) -> None:
    a, b, c = library.ordered()[:3]
    library.decide([a], "later")
    library.decide([b], "read")
    library.decide([c], "snoozed", until=str(date.today() + timedelta(days=1)))
    total = len(library.papers)
    ids = {
        q: [p["id"] for p in listed(capsys, library, q)]
        for q in (
            "is:later",
            "is:read",
            "is:snoozed",
            "is:new",
            "is:unread",
            "-is:new",
            "is:skipped",
        )
    }
    assert ids["is:later"] == [a] and ids["is:read"] == [b] and ids["is:snoozed"] == [c]
    assert len(ids["is:new"]) == total - 3 and a not in ids["is:new"]
    assert len(ids["is:unread"]) == total - 1 and b not in ids["is:unread"]
    assert sorted(ids["-is:new"]) == sorted([a, b, c]) and ids["is:skipped"] == []


def test_digest_latest_and_loose_dates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths).ok
    last = max(library.digests.values(), key=lambda d: d.seq)
    latest = {p["id"] for p in listed(capsys, library, "digest:latest")}
    assert latest == {pid for pid, p in library.papers.items() if last.id in p.digests}
    exact = {p["id"] for p in listed(capsys, library, 'digest:"Mar 13"')}
    loose = {p["id"] for p in listed(capsys, library, "digest:mar")}
    twelfth = {p["id"] for p in listed(capsys, library, 'digest:"march 12"')}
    assert exact and twelfth and exact | twelfth == loose
    assert {p["id"] for p in listed(capsys, library, "digest:2024-03-13")} == exact
    assert listed(capsys, library, "digest:apr") == []
    # A compact digest has no date: it is known by its import day, as the app labels it.
    (compact,) = [d for d in library.digests.values() if d.name.startswith("002_")]
    day = compact.imported_day()
    in_it = {pid for pid, p in library.papers.items() if compact.id in p.digests}
    for query in (f"digest:{day.isoformat()}", f'digest:"{day_label(day)}"'):
        assert in_it <= {p["id"] for p in listed(capsys, library, query)}


def test_views_tags_and_renaming(
    capsys: pytest.CaptureFixture[str],
    library: Library,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = library.ordered()[:2]
    library.tag([a, b], add=["ssm"])
    library.tag([b], add=["state-space"])
    _, out = run(capsys, library, "tags")
    assert out == "     2  ssm\n     1  state-space\n"
    _, out = run(capsys, library, "tag", "--rename", "SSM", "state-space")
    assert out == "rename tag ssm to state-space on 2 papers.\n"
    assert Library(library.data_dir).state(b).tags == ("state-space",)
    monkeypatch.setenv("READINGLIST_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text('[views]\nss = "tag:state-space"\n')
    _, out = run(capsys, library, "list", "--ids", "--view", "ss")
    assert out.split() == [a, b]
    assert main(["--data-dir", str(library.data_dir), "list", "--view", "nope"]) == 1
    assert "no view named 'nope' (views: ss)" in capsys.readouterr().err


def test_accents_are_folded_both_ways(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    digest = tmp_path / "d.txt"
    digest.write_text("Mar 13\n\nRésumé Parsing with Transformers\n\nWe parse résumés.\n")
    library = Library(tmp_path / "lib")
    assert library.import_files([digest]).ok
    for query in ("resume", "résumé", "RESUME pars"):
        assert [p["title"] for p in listed(capsys, library, query)] == [
            "Résumé Parsing with Transformers"
        ]
