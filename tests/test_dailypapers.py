"""Fetching and parsing Hugging Face Daily Papers, against a local stand-in for the API."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from readinglist import dailypapers
from readinglist.dailypapers import (
    FetchedDay,
    days_for,
    days_since,
    parse_day,
    parse_month,
    parse_response,
    parse_week,
    read_response,
    to_digest,
)
from readinglist.digest import read_digest
from readinglist.errors import DigestError, FetchError
from readinglist.fetch import fetch_day
from readinglist.model import paper_id, title_key
from tests.hfserver import DailyPapersServer, Reply, paper_item, rate_limited, status

DAY = date(2024, 3, 13)
ISO = "2024-03-13"


def items(count: int, day: str = ISO) -> list[dict[str, object]]:
    return [
        paper_item(f"2403.{n:05d}", f"Paper number {n}", f"Abstract {n}.", day=day)
        for n in range(count)
    ]


class Sleeps(list[float]):
    """A ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --------------------------------------------------------------------------- fetching


def test_a_normal_day(hf: DailyPapersServer) -> None:
    item = paper_item(
        "2403.08763",
        "Simple and Scalable Strategies",
        "We  continue\n pretraining. Code: https://github.com/acme/scale (and more).",
        authors=("Adam Ibrahim", "Benjamin Thérien"),
        githubRepo="https://github.com/acme/scale",
        githubStars=42,
        projectPage="https://acme.github.io/scale",
        upvotes=71,
    )
    hf.add_day(ISO, [item, *items(2)])

    day = fetch_day(DAY)

    assert (day.date, day.warnings) == (ISO, ())
    assert [p.title for p in day.papers] == [
        "Simple and Scalable Strategies",
        "Paper number 0",
        "Paper number 1",
    ]
    paper = day.papers[0]
    assert paper.abstract == (
        "We continue pretraining. Code: https://github.com/acme/scale (and more)."
    )
    assert paper.arxiv_id == "2403.08763"
    assert paper.authors == ("Adam Ibrahim", "Benjamin Thérien")
    assert (paper.published, paper.upvotes, paper.num_comments) == (ISO, 71, 2)
    assert (paper.github_repo, paper.github_stars) == ("https://github.com/acme/scale", 42)
    assert paper.project_page == "https://acme.github.io/scale"
    assert paper.ai_keywords == ("benchmark", "reasoning")
    assert paper.links == ("https://github.com/acme/scale", "https://acme.github.io/scale")
    assert paper.id == paper_id(title_key("Simple and Scalable Strategies"))
    (request,) = hf.requests
    assert request.path == "/api/daily_papers"
    assert request.params == {"date": ISO, "p": "0", "limit": "100"}
    assert "authorization" not in request.headers


def test_the_token_comes_from_hf_token(
    hf: DailyPapersServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    fetch_day(DAY)
    fetch_day(DAY, token="hf_other")
    assert [r.headers.get("authorization") for r in hf.requests] == [
        "Bearer hf_secret",
        "Bearer hf_other",
    ]


@pytest.mark.parametrize(("count", "pages"), [(7, ["0", "1", "2"]), (6, ["0", "1", "2"])])
def test_pages_until_a_short_page(hf: DailyPapersServer, count: int, pages: list[str]) -> None:
    hf.add_day(ISO, items(count))
    day = fetch_day(DAY, limit=3)
    assert [p.title for p in day.papers] == [f"Paper number {n}" for n in range(count)]
    assert hf.params("p") == pages
    assert set(hf.params("limit")) == {"3"}


def test_a_server_that_ignores_the_page_stops_after_a_page_of_repeats(
    hf: DailyPapersServer,
) -> None:
    page = orjson.dumps(items(2))
    hf.script(Reply(body=page), Reply(body=page), Reply(body=page))
    day = fetch_day(DAY, limit=2)
    assert len(day.papers) == 2
    assert len(hf.requests) == 2


def test_an_empty_day_is_no_papers_not_an_error(hf: DailyPapersServer) -> None:
    day = fetch_day(DAY)
    assert day == FetchedDay(ISO, f"daily papers of {ISO}", (), ())
    assert len(hf.requests) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (status(500), "HTTP 500 Internal Server Error"),
        (status(404), "HTTP 404 Not Found"),
        (status(401), "check HF_TOKEN"),
        (Reply(400, b'{"error":"Invalid date"}'), "HTTP 400 Bad Request from 127.0.0.1"),
        (Reply(body=b"<html>Oops</html>"), "malformed JSON"),
        (Reply(body=b""), "empty response"),
        (Reply(body=b'{"papers": []}'), "expected a JSON list of papers but found an object"),
        (Reply(body=b"[1]"), "item 1: expected an object but found a number"),
        (Reply(body=b'[{"title": 5}]'), "item 1: 'title' is a number, not text"),
        (Reply(body=b'[{"title": "T", "paper": []}]'), "item 1: 'paper' is a list"),
        (Reply(body=b'[{"title": "T", "paper": {"authors": "A"}}]'), "'authors' is text"),
        (Reply(body=b'[{"title": "T", "paper": {"upvotes": true}}]'), "'upvotes' is true/false"),
        (Reply(close=True), "closed the connection without an answer"),
    ],
)
def test_each_failure_is_one_line_naming_the_day(
    hf: DailyPapersServer, reply: Reply, expected: str
) -> None:
    hf.add_day(ISO, items(2))
    hf.script(reply)
    sleeps = Sleeps()
    with pytest.raises(FetchError) as raised:
        fetch_day(DAY, sleep=sleeps)
    message = str(raised.value)
    assert message.startswith(f"daily papers of {ISO}: ")
    assert expected in message
    assert "\n" not in message
    assert sleeps == []  # none of these is worth retrying
    assert isinstance(raised.value, DigestError)


def test_the_server_explains_a_bad_request(hf: DailyPapersServer) -> None:
    hf.script(Reply(400, b'{"error":"Invalid date\\u001b[2J"}'))
    with pytest.raises(FetchError, match=r"\(Invalid date␛\[2J\)$"):
        fetch_day(DAY)


def test_429_is_retried_after_the_wait_the_server_asks_for(hf: DailyPapersServer) -> None:
    hf.add_day(ISO, items(2))
    hf.script(rate_limited("7"), rate_limited(None), status(503))
    sleeps = Sleeps()
    day = fetch_day(DAY, sleep=sleeps)
    assert len(day.papers) == 2
    assert sleeps == [7.0, 2.0, 4.0]  # Retry-After, then backoff 2 s and 4 s
    assert len(hf.requests) == 4


def test_retry_after_as_a_past_http_date_retries_at_once(hf: DailyPapersServer) -> None:
    hf.script(rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"))
    sleeps = Sleeps()
    fetch_day(DAY, sleep=sleeps)
    assert sleeps == [0.0]


def test_retries_run_out(hf: DailyPapersServer) -> None:
    hf.script(*[status(503)] * 5)
    sleeps = Sleeps()
    with pytest.raises(FetchError, match=r"HTTP 503 Service Unavailable .* after 3 attempts; try"):
        fetch_day(DAY, retries=2, sleep=sleeps)
    assert sleeps == [1.0, 2.0]
    assert len(hf.requests) == 3


def test_a_long_retry_after_is_not_waited_for(hf: DailyPapersServer) -> None:
    hf.script(rate_limited("3600"))
    sleeps = Sleeps()
    with pytest.raises(FetchError, match=r"HTTP 429 .* asked to wait 3600 s; try again later"):
        fetch_day(DAY, sleep=sleeps)
    assert sleeps == []


def test_a_slow_server_times_out(hf: DailyPapersServer) -> None:
    hf.script(Reply(delay=5))
    with pytest.raises(FetchError, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.2 s"):
        fetch_day(DAY, timeout=0.2)


def test_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=rf"127\.0\.0\.1:{port} refused the connection"):
        fetch_day(DAY, endpoint=f"http://127.0.0.1:{port}")


def test_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(FetchError, match=r"2024-03-13: cannot resolve hf\.example; check your"):
        fetch_day(DAY, endpoint="https://hf.example")


def test_a_response_over_the_size_cap(
    hf: DailyPapersServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf.add_day(ISO, items(5))
    monkeypatch.setattr(dailypapers, "MAX_RESPONSE_BYTES", 200)
    with pytest.raises(FetchError, match="bytes is too large"):
        fetch_day(DAY)


def test_offline_mode_and_a_bad_endpoint_fail_before_any_request(
    hf: DailyPapersServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetch_day(DAY, endpoint="ftp://example.org")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FetchError, match="HF_HUB_OFFLINE is set"):
        fetch_day(DAY)
    assert hf.requests == []


def test_importing_the_module_loads_no_http_stack() -> None:
    code = (
        "import sys, readinglist.dailypapers, readinglist.bibtex;"
        "print(sorted(m for m in ('urllib.request', 'http.client', 'huggingface_hub')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- parsing


def test_an_item_missing_optional_fields_is_kept(hf: DailyPapersServer) -> None:
    hf.add_day(
        ISO,
        [
            {"title": "Only a title"},
            {"paper": {"id": "2403.00001", "title": "Title inside paper", "authors": None}},
            {"title": "Nulls", "paper": None, "summary": None, "numComments": None},
        ],
    )
    day = fetch_day(DAY)
    assert day.warnings == ()
    assert [(p.title, p.abstract, p.arxiv_id) for p in day.papers] == [
        ("Only a title", "", None),
        ("Title inside paper", "", "2403.00001"),
        ("Nulls", "", None),
    ]
    bare = day.papers[0]
    assert (bare.authors, bare.published, bare.upvotes, bare.num_comments) == ((), None, None, None)
    assert (bare.github_repo, bare.ai_keywords, bare.links) == (None, (), ())


def test_an_item_without_a_title_is_skipped_with_a_warning(hf: DailyPapersServer) -> None:
    good = items(3)
    hf.add_day(ISO, [good[0], {"paper": {"id": "2403.99999"}}, good[1], {"title": " \n "}, good[2]])
    day = fetch_day(DAY, limit=2)  # the skipped items are numbered across pages
    assert [p.title for p in day.papers] == ["Paper number 0", "Paper number 1", "Paper number 2"]
    assert day.warnings == (
        f"daily papers of {ISO}: item 2: has no title; skipped",
        f"daily papers of {ISO}: item 4: has no title; skipped",
    )


def test_text_is_made_safe_and_odd_links_are_dropped() -> None:
    item = paper_item(
        "2403.1; rm -rf",
        "Evil\x1b]52;c;aGk=\x07 title\u202e\n  wrapped",
        "Line one\r\nline\ttwo\x00.",
        githubRepo="javascript:alert(1)",
        projectPage="https://ok.example/p",
    )
    day = parse_response(orjson.dumps([item]), "saved.json", ISO)
    (paper,) = day.papers
    assert paper.title == "Evil␛]52;c;aGk=␇ title\ufffd wrapped"
    assert paper.abstract == "Line one line two␀."
    assert (paper.arxiv_id, paper.github_repo, paper.links) == (
        None,
        None,
        ("https://ok.example/p",),
    )
    assert len(day.warnings) == 2
    assert all(w.startswith("saved.json: item 1: 'Evil") for w in day.warnings)


def test_a_saved_response_file(tmp_path: Path) -> None:
    path = tmp_path / "daily_papers-2024-03-13.json"
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps([*items(2), items(1)[0]]))
    day = read_response(path)
    assert (day.date, day.source) == (ISO, str(path))
    assert [p.title for p in day.papers] == ["Paper number 0", "Paper number 1"]  # once each

    unnamed = tmp_path / "response.json"
    unnamed.write_bytes(orjson.dumps(items(2, day="2024-03-12")))
    assert read_response(unnamed).date == "2024-03-12"  # the day the items were submitted

    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    with pytest.raises(FetchError, match=rf"^{bad}: malformed JSON"):
        read_response(bad)
    with pytest.raises(FetchError, match=r"missing\.json: no such file$"):
        read_response(tmp_path / "missing.json")


def test_the_same_paper_on_two_days_has_one_id(
    hf: DailyPapersServer, digest_paths: list[Path]
) -> None:
    text_entry = read_digest(digest_paths[0]).entries[0]
    api_title = "  " + text_entry.title.replace(" ", "  ") + "\n"  # spacing differs, same paper
    hf.add_day(ISO, [paper_item("2403.11111", api_title, text_entry.abstract)])
    hf.add_day("2024-03-14", [*items(1), paper_item("2403.11111", text_entry.title)])

    first, second = fetch_day(DAY), fetch_day(date(2024, 3, 14))

    assert first.papers[0].id == second.papers[1].id == paper_id(title_key(text_entry.title))
    assert to_digest(first).digest.entries[0].title == text_entry.title


def test_to_digest_is_what_the_library_imports(hf: DailyPapersServer) -> None:
    day_items = items(3)
    hf.add_day(ISO, day_items)
    fetched = to_digest(fetch_day(DAY))

    assert (fetched.name, fetched.digest.date, fetched.digest.layout) == (ISO, "Mar 13", "api")
    assert [e.title for e in fetched.digest.entries] == [f"Paper number {n}" for n in range(3)]
    assert [e.line for e in fetched.digest.entries] == [1, 2, 3]
    assert {e.date for e in fetched.digest.entries} == {"Mar 13"}
    assert list(fetched.papers) == [paper_id(title_key(e.title)) for e in fetched.digest.entries]
    assert next(iter(fetched.papers.values())).arxiv_id == "2403.00000"

    # Re-fetched later: more upvotes, another order, an edited abstract: the same digest.
    changed = [dict(item, numComments=9) for item in reversed(day_items)]
    changed[0] = dict(changed[0], summary="Edited.", paper={**changed[0]["paper"], "upvotes": 99})
    hf.add_day(ISO, changed)
    assert to_digest(fetch_day(DAY)).digest.content_id == fetched.digest.content_id
    # One more paper (the evening's page): still the day's one digest, which the library
    # extends; another day: a different digest.
    hf.add_day(ISO, items(4))
    assert to_digest(fetch_day(DAY)).digest.content_id == fetched.digest.content_id
    hf.add_day("2024-03-14", day_items)
    other_day = to_digest(fetch_day(date(2024, 3, 14)))
    assert other_day.digest.content_id != fetched.digest.content_id


def test_metadata_round_trips_through_a_document(hf: DailyPapersServer) -> None:
    hf.add_day(ISO, [paper_item("2403.1", "T", githubRepo="https://github.com/a/b", githubStars=3)])
    (paper,) = fetch_day(DAY).papers
    doc = orjson.loads(orjson.dumps(paper.to_doc()))
    assert dailypapers.FetchedPaper.from_doc(doc) == paper


# --------------------------------------------------------------------------- days


def test_parse_day() -> None:
    assert parse_day("2024-02-29") == date(2024, 2, 29)
    with pytest.raises(ValueError, match=r"'2023-02-29' is not a real date \(day is out of range"):
        parse_day("2023-02-29")
    for text in ("2024-3-13", "20240313", "13/03/2024", "2024-W11", ""):
        with pytest.raises(ValueError, match="expected YYYY-MM-DD"):
            parse_day(text)


def test_parse_week_and_month() -> None:
    assert parse_week("2024-W11") == [date(2024, 3, 11 + n) for n in range(7)]
    assert parse_week("2020-W53")[-1] == date(2021, 1, 3)
    with pytest.raises(
        ValueError, match=r"'2024-W53' is not a real week \(2024 has weeks 1 to 52\)"
    ):
        parse_week("2024-W53")
    with pytest.raises(ValueError, match="expected YYYY-Www"):
        parse_week("2024-11")
    assert parse_month("2024-02") == [date(2024, 2, n) for n in range(1, 30)]
    with pytest.raises(ValueError, match="'2024-13' is not a real month"):
        parse_month("2024-13")
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        parse_month("2024-3")


def test_days_since_and_days_for() -> None:
    today = date(2024, 3, 14)
    assert days_since("2024-03-12", today) == [date(2024, 3, 12), date(2024, 3, 13), today]
    assert days_since("2024-03-14", today) == [today]
    with pytest.raises(ValueError, match="in the future"):
        days_since("2024-03-15", today)
    with pytest.raises(ValueError, match="covers 732 days; fetch at most 366"):
        days_since("2022-03-14", today)

    assert days_for(day="2024-03-13", today=today) == [date(2024, 3, 13)]
    assert days_for(week="2024-W11", today=today) == [date(2024, 3, 11 + n) for n in range(4)]
    assert len(days_for(month="2024-02", today=today)) == 29
    assert days_for(since="2024-03-13", today=today) == [date(2024, 3, 13), today]
    with pytest.raises(ValueError, match="--month 2024-04 is in the future"):
        days_for(month="2024-04", today=today)
    with pytest.raises(ValueError, match="exactly one of"):
        days_for(day="2024-03-13", week="2024-W11", today=today)
    with pytest.raises(ValueError, match="exactly one of"):
        days_for(today=today)
