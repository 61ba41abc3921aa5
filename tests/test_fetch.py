"""Daily Papers wired into the library, the CLI and the app, against a local stand-in for
the API (tests/hfserver.py on 127.0.0.1): never the internet."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import bibtexparser
import orjson
import pytest
from textual.app import App
from textual.widgets import Static

from readinglist.cli import main
from readinglist.dailypapers import day_id
from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.model import paper_id, title_key
from readinglist.samples import sample_paths
from readinglist.storage import CATALOG_FILE
from readinglist.tui.app import create_app
from readinglist.tui.screens.links import LinkScreen
from readinglist.tui.screens.tags import TagScreen
from readinglist.tui.widgets.paper_list import PaperList
from tests.conftest import by_title
from tests.hfserver import DailyPapersServer, Reply, paper_item, status
from tests.libhelpers import imported_digest_files, rename_to_hash, snapshot

ISO = "2024-03-13"
NEXT = "2024-03-14"
TRP = "TRP: Trained Rank Pruning for Efficient Deep Neural Networks"
TRAINED = "Trained Rank Pruning for Efficient Deep Neural Networks"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A library holding the one sample digest with the TRP pair."""
    path = tmp_path / "lib"
    assert Library(path).import_files([sample_paths()[2]]).ok
    return path


def cli(data_dir: Path, *argv: str) -> int:
    return main(["--data-dir", str(data_dir), *argv])


def fetch(data_dir: Path, *days: str) -> int:
    return cli(data_dir, "fetch", *(arg for day in days for arg in ("--date", day)))


def item(arxiv_id: str, title: str, **fields: Any) -> dict[str, Any]:
    return paper_item(arxiv_id, title, f"About {title}.", **fields)


# --------------------------------------------------------------------------- identity


def test_a_fetched_paper_merges_with_the_text_one_by_title(
    hf: DailyPapersServer, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = Library(data_dir)
    pid = by_title(before, TRAINED)
    before.tag([pid], add=["pruning"])
    before.set_note(pid, "Read §3.")
    text_links = before.papers[pid].links
    hf.add_day(
        ISO,
        [
            # The same two papers as the text digest: spacing differs, titles do not.
            item("1812.02402", f"  {TRAINED.replace(' ', '  ')}\n", githubRepo="https://gh.io/t"),
            item("2004.14566", TRP, projectPage="https://trp.example/", upvotes=7),
            item("2403.00001", "A paper only the API has"),
        ],
    )

    assert fetch(data_dir, ISO) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{ISO}: 3 papers: 1 new, 2 seen before"

    library = Library(data_dir)
    assert len(library.papers) == len(before.papers) + 1
    paper, trp = library.papers[pid], library.papers[by_title(library, TRP)]
    assert (paper.title, paper.arxiv_id, trp.arxiv_id) == (TRAINED, "1812.02402", "2004.14566")
    assert paper.seen == trp.seen == 2  # the fetched day is one more sighting each
    assert paper.links == (*text_links, "https://gh.io/t")  # the repository joins its links
    assert trp.links[-1] == "https://trp.example/"
    assert paper.authors == ("Ada Lovelace", "Alan Turing") and trp.upvotes == 7
    state = library.state(pid)
    assert (state.tags, state.note, state.status) == (("pruning",), "Read §3.", "new")
    assert library.fetched_days() == [ISO]
    (day,) = [d for d in library.digests.values() if d.name == ISO]
    assert (day.id, day.date, day.papers) == (day_id(ISO), "Mar 13", 3)


def test_a_paper_merges_by_arxiv_id_when_its_title_changed(
    hf: DailyPapersServer, tmp_path: Path
) -> None:
    hf.add_day(ISO, [item("2403.11111", "Scaling Laws for Tiny Models")])
    hf.add_day(NEXT, [item("2403.11111", "Scaling Laws for Tiny Language Models", upvotes=40)])
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, ISO) == 0
    pid = paper_id(title_key("Scaling Laws for Tiny Models"))
    Library(data_dir).decide([pid], "later")
    assert fetch(data_dir, NEXT) == 0

    library = Library(data_dir)
    (paper,) = library.papers.values()
    assert (paper.id, paper.title, paper.seen, paper.upvotes) == (
        pid,
        "Scaling Laws for Tiny Models",  # keeps its id and title
        2,
        40,  # the newest figures
    )
    assert library.state(pid).status == "later"


def test_two_papers_with_one_title_but_two_arxiv_ids_stay_two(
    hf: DailyPapersServer, tmp_path: Path
) -> None:
    hf.add_day(ISO, [item("2403.00001", "Technical Report")])
    hf.add_day(NEXT, [item("2403.99999", "Technical Report")])
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, ISO, NEXT) == 0
    library = Library(data_dir)
    assert sorted(p.arxiv_id for p in library.papers.values()) == ["2403.00001", "2403.99999"]
    assert all(p.seen == 1 for p in library.papers.values())


def test_two_days_sharing_a_paper_see_it_twice(hf: DailyPapersServer, tmp_path: Path) -> None:
    hf.add_day(ISO, [item("2403.1", "Shared"), item("2403.2", "Only on the 13th")])
    hf.add_day(NEXT, [item("2403.3", "Only on the 14th"), item("2403.1", "Shared")])
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, NEXT, ISO) == 0  # in any order

    library = Library(data_dir)
    assert {p.title: p.seen for p in library.papers.values()} == {
        "Shared": 2,
        "Only on the 13th": 1,
        "Only on the 14th": 1,
    }
    assert library.query("seen:2") == [by_title(library, "Shared")]
    assert sorted(d.name for d in library.digests.values()) == [ISO, NEXT]


# --------------------------------------------------------------------------- fetching again


def test_fetching_a_day_again_changes_only_the_figures(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = [item("2403.1", "One", upvotes=3), item("2403.2", "Two")]
    hf.add_day(ISO, first)
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, ISO) == 0
    files = snapshot(data_dir)

    assert fetch(data_dir, ISO) == 0  # nothing moved: nothing is written
    assert snapshot(data_dir) == files

    changed = [dict(i) for i in reversed(first)]
    changed[1] = dict(changed[1], numComments=9, paper={**changed[1]["paper"], "upvotes": 50})
    changed[1]["paper"]["authors"] = [{"name": "Someone Else"}]  # not refreshable: kept
    changed[0] = dict(changed[0], summary="Edited.", paper={**changed[0]["paper"], "summary": "E"})
    hf.add_day(ISO, changed)
    capsys.readouterr()
    assert fetch(data_dir, ISO) == 0
    assert capsys.readouterr().out.startswith(f"{ISO}: already fetched, no new papers")

    library = Library(data_dir)
    one, two = library.papers[by_title(library, "One")], library.papers[by_title(library, "Two")]
    assert (one.upvotes, one.meta and one.meta["num_comments"], one.authors) == (
        50,
        9,
        ("Ada Lovelace", "Alan Turing"),
    )
    assert (library.abstract(two.id), one.seen, two.seen) == ("About Two.", 1, 1)
    assert [d.papers for d in library.digests.values()] == [2]


def test_a_day_that_grew_is_extended_not_counted_twice(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    morning = [item("2403.1", "Early one"), item("2403.2", "Early two")]
    hf.add_day(NEXT, [item("2403.3", "Seen the day after")])
    hf.add_day(ISO, morning)
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, ISO, NEXT) == 0
    Library(data_dir).decide([paper_id(title_key("Seen the day after"))], "skipped")

    hf.add_day(ISO, [*morning, item("2403.3", "Seen the day after"), item("2403.4", "Late")])
    capsys.readouterr()
    assert fetch(data_dir, ISO) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{ISO}: 2 papers: 1 new, 1 seen before, 1 skipped back in the inbox"
    )

    library = Library(data_dir)
    seen = {p.title: p.seen for p in library.papers.values()}
    assert seen == {"Early one": 1, "Early two": 1, "Seen the day after": 2, "Late": 1}
    assert {d.name: d.papers for d in library.digests.values()} == {ISO: 4, NEXT: 1}
    assert library.state(paper_id(title_key("Seen the day after"))).resurfaced == day_id(ISO)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (status(500), "HTTP 500 Internal Server Error"),
        (status(404), "HTTP 404 Not Found"),
        (Reply(body=b"<html>Oops</html>"), "malformed JSON"),
    ],
)
def test_a_failed_day_is_one_line_and_leaves_the_library_alone(
    hf: DailyPapersServer,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    reply: Reply,
    expected: str,
) -> None:
    hf.add_day(ISO, [item("2403.1", "Would be new")])
    hf.script(reply)
    files = snapshot(data_dir)

    assert fetch(data_dir, ISO) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"readinglist: daily papers of {ISO}: ") and expected in err
    assert err.count("\n") == 1
    assert snapshot(data_dir) == files


def test_a_day_with_bad_content_does_not_stop_the_others(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf.add_day(ISO, [item("2403.1", "Fine")])
    hf.add_day(NEXT, [item("2403.2", "Also fine")])
    hf.script(Reply(body=b'[{"title": "T", "paper": {"upvotes": "many"}}]'))
    data_dir = tmp_path / "lib"
    rc = fetch(data_dir, ISO, NEXT)
    out, err = capsys.readouterr()
    assert rc == 1
    assert err == (
        f"readinglist: daily papers of {ISO}: item 1: 'upvotes' is text, not a whole number\n"
    )
    assert f"{NEXT}: 1 paper: 1 new" in out
    assert [p.title for p in Library(data_dir).papers.values()] == ["Also fine"]


def test_an_unreachable_api_stops_the_fetch(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf.add_day(ISO, [item("2403.1", "Fine")])
    hf.add_day(NEXT, [item("2403.2", "Also fine")])
    hf.script(Reply(503, b"", {"Retry-After": "0"}), status(401))
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, "2024-03-12", ISO, NEXT) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("readinglist: daily papers of 2024-03-12: HTTP 401 Unauthorized")
    assert err[1] == (
        f"readinglist: 2 later days not fetched ({ISO} to {NEXT}): they would fail alike; "
        "run the command again"
    )
    assert hf.params("date") == ["2024-03-12"] * 2  # 503 was retried; 401 is not
    assert Library(data_dir).papers == {}


def test_offline_is_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = snapshot(data_dir)
    assert fetch(data_dir, ISO) == 1  # HF_ENDPOINT is a closed port
    assert "refused the connection" in capsys.readouterr().err
    assert snapshot(data_dir) == files


def test_a_day_without_papers_is_not_an_error(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fetch(tmp_path / "lib", "2024-03-16") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "2024-03-16: no papers"
    assert Library(tmp_path / "lib").digests == {}


# --------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    "argv",
    [
        ["--date", "2023-02-29"],
        ["--date", "13/03/2024"],
        ["--week", "2024-W53"],
        ["--month", "2024-13"],
        ["--date", "2999-01-01"],
        ["--since", "2999-01-01"],
        ["--date", ISO, "--week", "2024-W11"],
    ],
)
def test_bad_dates_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli(tmp_path / "lib", "fetch", *argv)
    assert exit_.value.code == 2
    assert "fetch" in capsys.readouterr().err
    assert not (tmp_path / "lib").exists()  # nothing was created


def test_week_month_and_since_name_their_days(hf: DailyPapersServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "lib"
    assert cli(data_dir, "fetch", "--week", "2024-W11") == 0
    assert hf.params("date") == [f"2024-03-{d}" for d in range(11, 18)]
    hf.requests.clear()
    assert cli(data_dir, "fetch", "--month", "2024-02") == 0
    assert len(hf.params("date")) == 29
    hf.requests.clear()
    since = date.today() - timedelta(days=2)
    assert cli(data_dir, "fetch", "--since", since.isoformat()) == 0
    assert hf.params("date") == [(since + timedelta(days=n)).isoformat() for n in range(3)]
    hf.requests.clear()
    assert fetch(data_dir, NEXT, ISO, NEXT) == 0
    assert hf.params("date") == [ISO, NEXT]  # sorted, once each


def test_plain_fetch_starts_at_the_last_day_fetched(hf: DailyPapersServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "lib"
    today = date.today()
    assert cli(data_dir, "fetch") == 0  # the first time: today
    assert hf.params("date") == [today.isoformat()]
    last = today - timedelta(days=3)
    hf.add_day(last.isoformat(), [item("2403.1", "Three days ago")])
    assert fetch(data_dir, last.isoformat()) == 0
    hf.requests.clear()
    assert cli(data_dir, "fetch") == 0  # that day again (it may have grown), through today
    assert hf.params("date") == [(last + timedelta(days=n)).isoformat() for n in range(4)]


def test_progress_goes_to_a_terminal_only(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    hf.add_day(ISO, [item("2403.1", "One")])
    assert fetch(tmp_path / "lib", ISO, NEXT) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert fetch(tmp_path / "lib2", ISO, NEXT) == 0
    err = capsys.readouterr().err
    assert f"fetching {ISO} (1/2)…" in err and f"fetching {NEXT} (2/2)…" in err


# --------------------------------------------------------------------------- saved responses


def test_a_saved_response_imports_exactly_like_fetching_its_day(
    hf: DailyPapersServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = [item("2403.1", "Saved one", upvotes=5), item("2403.2", "Saved two")]
    saved = tmp_path / "daily_papers.json"  # no date in the name: the items say which day
    saved.write_bytes(orjson.dumps(day))
    data_dir = tmp_path / "lib"
    assert cli(data_dir, "import", str(saved)) == 0

    library = Library(data_dir)
    (digest,) = library.digests.values()
    assert (digest.id, digest.name, digest.date) == (day_id(ISO), ISO, "Mar 13")
    assert library.papers[by_title(library, "Saved one")].upvotes == 5

    hf.add_day(ISO, day)  # the same day fetched afterwards: the same digest
    capsys.readouterr()
    assert fetch(data_dir, ISO) == 0
    assert "already fetched" in capsys.readouterr().out
    assert all(p.seen == 1 for p in Library(data_dir).papers.values())


def test_a_response_is_told_by_its_content(tmp_path: Path, data_dir: Path) -> None:
    as_text = tmp_path / "2024-03-14.txt"  # saved under the wrong extension
    as_text.write_bytes(orjson.dumps([item("2403.7", "JSON in a txt file", day=NEXT)]))
    report = Library(data_dir).import_files([as_text, ("<stdin>", as_text.read_bytes())])
    assert [f.status for f in report.files] == ["imported", "unchanged"]
    assert [f.layout for f in report.files] == ["api", "api"]
    assert Library(data_dir).fetched_days() == [NEXT]

    broken = tmp_path / "broken.json"
    broken.write_text('[{"title": "T"')
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"error": "Invalid date"}')
    files = snapshot(data_dir)
    report = Library(data_dir).import_files([broken, wrong])
    errors = [f.error or "" for f in report.files]
    assert errors[0].startswith(f"{broken}: malformed JSON (")
    assert errors[1] == (
        f"{wrong}: expected a JSON list of papers but found an object; not a daily-papers response"
    )
    assert snapshot(data_dir) == files


# --------------------------------------------------------------------------- queries, output


@pytest.fixture
def fetched(hf: DailyPapersServer, tmp_path: Path) -> Library:
    hf.add_day(
        ISO,
        [
            item(
                "1706.03762",
                "Attention Is All You Need",
                authors=("Ashish Vaswani", "Noam Shazeer"),
                upvotes=120,
                publishedAt="2017-06-12T17:57:34.000Z",
                githubRepo="https://github.com/tensorflow/tensor2tensor",
            ),
            item(
                "0806.1234",
                "Visualizing Data using t-SNE",
                authors=("Laurens van der Maaten", "Geoffrey Hinton"),
                upvotes=45,
            ),
            item(
                "1503.02531",
                "Distilling the Knowledge",
                authors=("Geoffrey Hinton",),
                upvotes=0,
                publishedAt=None,  # the year comes from the arXiv id
            ),
            {"title": "A paper without metadata {and} 100% braces_"},
        ],
    )
    data_dir = tmp_path / "lib"
    assert fetch(data_dir, ISO) == 0
    return Library(data_dir)


def titles(library: Library, query: str) -> list[str]:
    return [library.papers[pid].title for pid in library.query(query)]


def test_author_and_upvotes_queries(fetched: Library) -> None:
    assert titles(fetched, "author:hinton") == [  # filters keep the default order
        "Distilling the Knowledge",
        "Visualizing Data using t-SNE",
    ]
    assert titles(fetched, "author:hintn") == titles(fetched, "author:hinton")  # a typo
    assert titles(fetched, "author:vasw") == ["Attention Is All You Need"]  # a prefix
    assert titles(fetched, "author:maaten") == ["Visualizing Data using t-SNE"]
    assert titles(fetched, 'author:"geoffrey hinton" t-sne') == ["Visualizing Data using t-SNE"]
    assert titles(fetched, "author:noam") == []  # a given name is not a surname
    assert titles(fetched, "upvotes:>=45") == titles(fetched, "upvotes:>44")
    assert sorted(titles(fetched, "upvotes:>=45")) == [
        "Attention Is All You Need",
        "Visualizing Data using t-SNE",
    ]
    assert titles(fetched, "upvotes:0") == ["Distilling the Knowledge"]
    assert "A paper without metadata {and} 100% braces_" in titles(fetched, "-upvotes:>=0")
    assert titles(fetched, "has:code") == ["Attention Is All You Need"]  # the repository


def test_list_json_carries_the_metadata(
    fetched: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli(fetched.data_dir, "list", "--json") == 0
    papers = {p["title"]: p for p in orjson.loads(capsys.readouterr().out)}
    attention = papers["Attention Is All You Need"]
    assert attention["arxiv_id"] == "1706.03762"
    assert attention["authors"] == ["Ashish Vaswani", "Noam Shazeer"]
    assert (attention["upvotes"], attention["published"]) == (120, "2017-06-12")
    assert attention["links"] == ["https://github.com/tensorflow/tensor2tensor"]
    bare = papers["A paper without metadata {and} 100% braces_"]
    assert not {"arxiv_id", "authors", "upvotes", "published"} & bare.keys()


def test_bibtex_export_parses(fetched: Library, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(fetched.data_dir, "export", "--format", "bibtex") == 0
    assert capsys.readouterr().out == ""  # by default only papers with notes
    assert cli(fetched.data_dir, "export", "--all", "--format", "bibtex") == 0
    parsed = bibtexparser.parse_string(capsys.readouterr().out)
    assert parsed.failed_blocks == []
    entries = {e.key: e for e in parsed.entries}
    assert sorted(entries) == [
        "anonpaper",
        "hinton2015distilling",
        "maaten2024visualizing",
        "vaswani2017attention",
    ]
    attention = entries["vaswani2017attention"]
    assert attention["author"] == "Vaswani, Ashish and Shazeer, Noam"
    assert (attention["eprint"], attention["archivePrefix"]) == ("1706.03762", "arXiv")
    assert entries["maaten2024visualizing"]["author"].startswith("van der Maaten, Laurens")
    bare = entries["anonpaper"]
    assert bare["title"] == r"{A} paper without metadata \{and\} 100\% braces\_"
    assert bare["note"] == f"Seen in 1 digest: Mar 13 ({ISO})"
    assert bare["url"].startswith("https://huggingface.co/papers?q=A%20paper")
    assert cli(fetched.data_dir, "export", "author:vaswani", "--all", "--format", "bibtex") == 0
    assert [e.key for e in bibtexparser.parse_string(capsys.readouterr().out).entries] == [
        "vaswani2017attention"
    ]


def test_damaged_metadata_is_named_and_refused(fetched: Library) -> None:
    """A fetched day's digest file holding metadata of the wrong type (written by another
    program, under the name its bytes hash to) is refused, naming the file and the field;
    nothing is changed, and whatever was rebuilt is rebuilt again the same way."""
    data_dir = fetched.data_dir
    (path,) = imported_digest_files(data_dir)
    data = orjson.loads(path.read_bytes())
    number = next(n for n, doc in data["papers"].items() if doc.get("upvotes") is not None)
    data["papers"][number]["upvotes"] = "many"
    damaged = rename_to_hash(path, orjson.dumps(data))
    files = snapshot(data_dir)
    for _ in range(2):
        with pytest.raises(LibraryCorrupt) as error:
            Library(data_dir)
        assert str(error.value).startswith(f"{damaged}: ")
        assert f"papers/{number}: field 'upvotes' is \"many\" (text)" in str(error.value)
        assert snapshot(data_dir) == files


def test_a_digest_file_changed_in_place_is_refused(fetched: Library) -> None:
    data_dir = fetched.data_dir
    (path,) = imported_digest_files(data_dir)
    path.write_bytes(path.read_bytes().replace(b'"upvotes":120', b'"upvotes":121'))
    message = f"{path}: its content does not match its name"
    opened = Library(data_dir)  # from catalog.bin: the file is read when an abstract is
    with pytest.raises(LibraryCorrupt, match=message):
        opened.abstract(by_title(opened, "Attention Is All You Need"))
    (data_dir / CATALOG_FILE).unlink()  # a rebuild reads every digest file
    with pytest.raises(LibraryCorrupt, match=message):
        Library(data_dir)


# --------------------------------------------------------------------------- the app


async def wait_for(pilot: Any, condition: Any) -> None:
    for _ in range(250):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition()


async def test_app_f_fetches_and_the_list_updates(
    hf: DailyPapersServer, data_dir: Path, tmp_path: Path
) -> None:
    today = date.today()
    yesterday = (today - timedelta(days=1)).isoformat()
    morning = [item("2403.8", "Fetched yesterday morning", upvotes=3)]
    hf.add_day(yesterday, morning)
    assert fetch(data_dir, yesterday) == 0
    hf.add_day(yesterday, [*morning, item("2403.9", "Added in the evening")])
    hf.add_day(today.isoformat(), [{"title": 5}])  # an unusable day: left out, named
    app = create_app(data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.searchable)
        papers = app.query_one(PaperList)
        before = len(papers.ids)
        await pilot.press("f")
        await wait_for(pilot, lambda: len(papers.ids) == before + 1)
        notes = {n.title: n.message for n in app._notifications}
        assert notes["Daily Papers"] == "Fetched 1 day: 1 new paper, 0 seen before."
        assert notes["Day left out"] == (
            f"daily papers of {today}: item 1: 'title' is a number, not text"
        )
        assert not app.fetching
    assert hf.params("date") == [yesterday, yesterday, today.isoformat()]
    assert {d.name: d.papers for d in Library(data_dir).digests.values()}[yesterday] == 2


async def test_app_f_offline_is_a_notice_and_nothing_changes(
    data_dir: Path, tmp_path: Path
) -> None:
    app = create_app(data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.searchable)
        files = snapshot(data_dir)
        await pilot.press("f")
        await wait_for(pilot, lambda: any(n.title == "Fetch failed" for n in app._notifications))
        (failure,) = [n for n in app._notifications if n.title == "Fetch failed"]
        assert "refused the connection" in failure.message and "\n" not in failure.message
        assert len(app.query_one(PaperList).ids) == len(Library(data_dir).papers)
    assert snapshot(data_dir) == files


async def test_app_o_opens_the_paper_page_and_O_offers_its_links(
    hf: DailyPapersServer, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf.add_day(ISO, [item("2004.14566", TRP, githubRepo="https://github.com/x/trp")])
    assert fetch(data_dir, ISO) == 0
    opened: list[str] = []

    def open_url(app: App[Any], url: str, *, new_tab: bool = True) -> None:
        opened.append(url)

    monkeypatch.setattr(App, "open_url", open_url)
    app = create_app(data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.searchable)
        papers = app.query_one(PaperList)
        assert app.library is not None
        papers.move_to(by_title(app.library, TRP))
        await pilot.pause(0.1)  # the detail pane follows the cursor once it rests
        meta = str(app.query_one("#detail-meta", Static).render())
        assert meta.startswith("By Ada Lovelace, Alan Turing\nSeen in 2 digests")
        assert "arXiv 2004.14566 · 12 upvotes · 2 comments · published 2024-03-13" in meta
        links = str(app.query_one("#detail-links", Static).render()).splitlines()
        assert links[:3] == [
            "[1] arXiv abstract https://arxiv.org/abs/2004.14566",
            "[2] arXiv PDF https://arxiv.org/pdf/2004.14566",
            "[3] Code https://github.com/x/trp",
        ]
        await pilot.press("o")
        await pilot.press("O")
        assert isinstance(app.screen, LinkScreen)
        assert [label for label, _ in app.screen.links] == [
            "arXiv abstract",
            "arXiv PDF",
            "Code",
            "Hugging Face",
        ]
        await pilot.press("2")
        await pilot.press("t")
        assert isinstance(app.screen, TagScreen)
        assert app.screen.choices.order == ["benchmark", "reasoning"]  # offered only
        await pilot.press("escape")
        # A paper only a text digest knows: the title search, as before.
        papers.move_to(by_title(app.library, TRAINED))
        await pilot.press("o")
    assert opened == [
        "https://huggingface.co/papers/2004.14566",
        "https://arxiv.org/pdf/2004.14566",
        "https://huggingface.co/papers?q=Trained+Rank+Pruning+for+Efficient+Deep+Neural+Networks",
    ]
    assert Library(data_dir).state(by_title(Library(data_dir), TRP)).tags == ()
