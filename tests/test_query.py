"""The query language on the five real digests, checked against plain list comprehensions.

Read-only tests share one library per module (building it per test would dominate the run
time); tests that mark, tag or import use the per-test ``library`` fixture.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readinglist import catalogfile
from readinglist.cli import main
from readinglist.device import Device
from readinglist.errors import QueryError
from readinglist.library import Library
from readinglist.model import Paper, title_key
from readinglist.query import Term, count_test, parse_query, words_of
from readinglist.search import SEEN_CAP, SearchEngine
from readinglist.storage import CATALOG_FILE
from readinglist.textindex import EXACT, PREFIX, TYPO, Match
from tests.conftest import by_title
from tests.libhelpers import current_device

MAMBA_TS = "Is Mamba Effective for Time Series Forecasting?"
LMC = "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching"
DIFFTACTILE = (
    "DIFFTACTILE: A Physics-based Differentiable Tactile Simulator for Contact-rich Robotic "
    "Manipulation"
)


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Library:
    shared = Library(tmp_path_factory.mktemp("query") / "lib", device=current_device())
    assert shared.import_files(digest_paths).ok
    return shared


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.casefold())


def where(library: Library, keep: Callable[[Paper], bool]) -> list[str]:
    """Ids in the default order for which ``keep(paper)`` holds."""
    return [pid for pid in library.ordered() if keep(library.papers[pid])]


# ---------------------------------------------------------------------------- parsing


def test_parse_splits_words_phrases_filters_and_negation() -> None:
    query = parse_query(
        'ARM-Net "Time  Series" -tag:Todo is:unread -diffusion seen:>=2 in:abstract'
    )
    assert query.terms == (
        Term("word", "arm"),
        Term("word", "net"),
        Term("phrase", "time series"),
        Term("tag", "todo", negated=True),
        Term("is", "read", negated=True),
        Term("word", "diffusion", negated=True),
        Term("seen", ">=2"),
    )
    assert query.in_abstract
    assert query.words == ("arm", "net")


def test_parse_is_lenient_while_typing() -> None:
    assert parse_query('"time ser').terms == (Term("phrase", "time ser"),)
    assert parse_query('digest:"Mar 1').terms == (Term("digest", "mar 1"),)
    # A pasted title's "Word:" is a word, not an unknown filter.
    assert parse_query("Order Matters: Sequence").words == ("order", "matters", "sequence")
    assert parse_query("  -  ").terms == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "foo:bar",
            "unknown filter 'foo:'; known filters: tag: is: has: seen: author: upvotes: digest: "
            "abstract: in:",
        ),
        ('mamba Foo:"x y"', "unknown filter 'foo:'"),
        ("is:bogus", "is:bogus: expected is:new, is:later, is:read, is:skipped, is:snoozed"),
        ("seen:abc", "seen:abc: expected seen:N"),
        ("seen:>=", "seen:>=: expected seen:N"),
        ("has:links", "has:links: expected has:code"),
        ("tag:", "tag: needs a value"),
        ("tag:!!", "tag:!!: expected tag:NAME"),
        ("-in:abstract", "in:abstract cannot be negated"),
    ],
)
def test_bad_queries_raise_one_line_query_errors(lib: Library, text: str, message: str) -> None:
    with pytest.raises(QueryError) as error:
        lib.query(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------------- free words


def test_typos_find_the_paper_first(lib: Library) -> None:
    assert lib.query("mamba tiem seires")[0] == by_title(lib, MAMBA_TS)
    assert lib.query("mamba time series")[0] == by_title(lib, MAMBA_TS)


def test_typos_match_whole_words(lib: Library) -> None:
    expected = where(lib, lambda p: {"reinforcement", "learning"} <= set(words(p.title)))
    assert len(expected) >= 5
    assert sorted(lib.query("reinforcment lerning")) == sorted(expected)


def test_prefix_matches_while_typing(lib: Library) -> None:
    expected = where(lib, lambda p: any(w.startswith("permut") for w in words(p.title)))
    assert len(expected) == 20
    assert lib.query("permut") == expected  # all prefix matches: ties keep the default order
    target = by_title(lib, LMC)
    for end in range(1, len("permutation") + 1):
        assert target in lib.query("permutation"[:end]), "permutation"[:end]


def test_typing_a_query_keystroke_by_keystroke(lib: Library) -> None:
    target = by_title(lib, MAMBA_TS)
    for typed in (
        "m",
        "mam",
        "mamba",
        "mamba t",
        "mamba tiem",
        "mamba tiem s",
        "mamba tiem seires",
    ):
        assert target in lib.query(typed), typed


def test_short_words_never_match_by_typo(lib: Library) -> None:
    # "tme" is one typo from "time", but 3 letters only match exactly or as a prefix.
    assert lib.query("tme") == []
    assert lib.query("tiem")  # 4 letters may carry a typo
    for pid in lib.query("gan"):
        assert any(w.startswith("gan") for w in words(lib.papers[pid].title))


def test_every_word_must_match(lib: Library) -> None:
    expected = where(lib, lambda p: {"mamba", "graph"} <= set(words(p.title)))
    assert lib.query("graph mamba") == expected
    assert lib.query("mamba zzzzzz") == []


def test_free_words_match_tags_too(library: Library) -> None:
    pid = by_title(library, LMC)
    library.tag([pid], add=["bayesopt"])
    assert library.query("bayesopt") == [pid]
    assert library.query("bayesopt permutation") == [pid]


# ---------------------------------------------------------------------------- ranking


def test_exact_title_first_then_word_scores_then_default_order(lib: Library) -> None:
    plain = by_title(lib, "Trained Rank Pruning for Efficient Deep Neural Networks")
    trp = by_title(lib, "TRP: Trained Rank Pruning for Efficient Deep Neural Networks")
    assert lib.query("Trained Rank Pruning for Efficient Deep Neural Networks")[:2] == [plain, trp]
    assert lib.query("trp trained rank pruning")[0] == trp

    def score(pid: str) -> int:
        title = words(lib.papers[pid].title)
        return 2 if "model" in title else 1 if any(w.startswith("model") for w in title) else 0

    results = lib.query("model")
    assert [score(pid) for pid in results] == sorted(map(score, results), reverse=True)
    rank = {pid: n for n, pid in enumerate(lib.ordered())}
    for tier in (2, 1):
        same = [pid for pid in results if score(pid) == tier]
        assert same == sorted(same, key=rank.__getitem__)


def test_empty_and_filter_only_queries_keep_the_default_order(lib: Library) -> None:
    assert lib.query("") == lib.ordered()
    assert lib.search_engine().search("   ") == lib.ordered()
    assert lib.query("seen:>=1") == lib.ordered()


def test_seen_counts_past_a_byte_are_compared_whole(tmp_path: Path) -> None:
    """``seen:`` tests counts kept a byte each (``SEEN_CAP``): a paper seen in more digests
    than that is still compared on its own count."""
    header = "new\n\nSubscribe\n\nbyAK and the research community\n\nMar 13\n\n"
    abstract = "We study what recurs across the digests of a long year of papers.\n\n"
    paths = []
    for day in range(SEEN_CAP + 2):  # the first paper is in all, the next in every other
        titles = ["Everlasting Paper", *(["Alternate Paper"] if day % 2 else []), f"Day {day}"]
        path = tmp_path / f"{day:03}.txt"
        path.write_text(header + "".join(f"{t}\n\n{abstract}" for t in titles))
        paths.append(path)
    library = Library(tmp_path / "lib")
    assert library.import_files(paths).ok
    seen = {library.papers[pid].title: library.papers[pid].seen for pid in library.ordered()}
    assert seen["Everlasting Paper"] == SEEN_CAP + 2 and seen["Alternate Paper"] == 128
    for query in ("seen:>=256", "seen:257", "seen:<257", "seen:>200", "seen:1", "seen:<=255"):
        test = count_test("seen", query.removeprefix("seen:"))
        assert library.query(query) == where(library, lambda p, t=test: t(p.seen)), query


# ---------------------------------------------------------------------------- phrases, abstracts


def test_phrase_is_a_case_insensitive_title_substring(lib: Library) -> None:
    assert lib.query('"TIME SERIES"') == where(lib, lambda p: "time series" in p.title.casefold())
    assert lib.query('"ime ser"') == where(lib, lambda p: "ime ser" in p.title.casefold())
    assert lib.query('-"time series"') == where(
        lib, lambda p: "time series" not in p.title.casefold()
    )


def test_abstract_words_match_at_word_starts(lib: Library) -> None:
    abstracts = lib.catalog.abstracts(lib.ordered())

    def starts(word: str) -> list[str]:
        found = re.compile(rf"\b{word}")
        return where(lib, lambda p: found.search(abstracts[p.id].casefold()) is not None)

    expected = starts("forecast")
    assert len(expected) >= 10
    assert lib.query("abstract:forecast") == expected
    assert lib.query("abstract:Forecast -abstract:mamba") == [
        pid for pid in expected if pid not in starts("mamba")
    ]
    state_of_the_art = where(lib, lambda p: "state-of-the-art" in abstracts[p.id].casefold())
    assert set(state_of_the_art) <= set(lib.query('abstract:"state of the art"'))


def test_in_abstract_lets_words_match_abstracts(lib: Library) -> None:
    in_titles = set(lib.query("forecasting"))
    in_abstracts = set(lib.query("abstract:forecasting"))
    results = lib.query("in:abstract forecasting")
    assert set(results) == in_titles | in_abstracts
    assert set(results[: len(in_titles)]) == in_titles  # title matches rank above the rest
    assert in_abstracts - in_titles


# ---------------------------------------------------------------------------- filters


def test_seen_filters(lib: Library) -> None:
    for text, keep in [
        ("seen:>=2", lambda n: n >= 2),
        ("seen:3", lambda n: n == 3),
        ("seen:<2", lambda n: n < 2),
        ("seen:>3", lambda n: n > 3),
        ("seen:<=1", lambda n: n <= 1),
        ("-seen:1", lambda n: n != 1),
    ]:
        assert lib.query(text) == where(lib, lambda p, keep=keep: keep(p.seen)), text
    assert len(lib.query("seen:>=2")) == 51


def test_has_code(lib: Library) -> None:
    code = re.compile(r"https?://(www\.)?(github\.com|gitlab\.com)/", re.IGNORECASE)
    expected = where(lib, lambda p: any(code.match(link) for link in p.links))
    assert len(expected) > 50
    assert lib.query("has:code") == expected
    # A project page on github.io is not code.
    assert by_title(lib, DIFFTACTILE) not in expected


def test_digest_by_date_or_name_prefix(lib: Library) -> None:
    march_13 = [d.id for d in lib.digests.values() if d.date == "Mar 13"]
    expected = where(lib, lambda p: any(d in march_13 for d in p.digests))
    assert lib.query('digest:"Mar 13"') == expected
    assert lib.query("digest:000_88") == expected
    spaced = {d.id for d in lib.digests.values() if d.name.startswith(("000", "001"))}
    assert len(spaced) == 2
    assert lib.query("digest:00 -digest:000 -digest:001") == where(
        lib, lambda p: not spaced & set(p.digests)
    )


def test_state_filters_follow_changes_made_after_the_index(library: Library) -> None:
    order = library.ordered()
    library.query("mamba")  # builds the index before any state exists
    read, tagged, noted = order[:3], order[2:6], order[5]
    library.mark(read)
    library.tag(tagged, add=["x"])
    library.set_note(noted, "worth it")
    assert library.query("is:read") == read
    assert library.query("is:unread") == [pid for pid in order if pid not in read]
    assert library.query("-is:unread") == read
    assert library.query("tag:x") == tagged
    assert library.query("tag:X -is:read") == tagged[1:]
    assert library.query("is:tagged") == tagged
    assert library.query("is:noted") == [noted]
    library.mark(read, read=False)
    assert library.query("is:read") == []


def test_filters_combine_with_words_and_negation(library: Library) -> None:
    recurring = [pid for pid in library.ordered() if library.papers[pid].seen >= 2]
    library.tag(recurring[:10], add=["x"])
    library.mark(recurring[:3])
    assert library.query("tag:x is:unread seen:>=2") == recurring[3:10]

    def has_diffusion(title: str) -> bool:
        return any(w.startswith("diffusion") for w in words(title))

    expected = where(library, lambda p: not has_diffusion(p.title))
    assert library.query("-diffusion") == expected
    assert library.query("models -diffusion seen:>=2") == [
        pid for pid in library.query("models seen:>=2") if pid in expected
    ]
    # Negating a hyphenated token excludes papers with all its words, not with either.
    arm = by_title(library, "ARM-Net: Adaptive Relation Modeling Network for Structured Data")
    assert library.query("-arm-net") == [pid for pid in library.ordered() if pid != arm]


def query_texts(library: Library) -> st.SearchStrategy[str]:
    """Queries as typed: title words whole, cut short or negated, whole titles (ranked
    first), filters."""
    vocabulary = sorted(
        {w for pid in library.ordered() for w in words_of(library.papers[pid].title)}
    )
    word = st.sampled_from(vocabulary).flatmap(
        lambda w: st.integers(1, len(w)).map(lambda n: w[:n])
    )
    token = st.one_of(
        word,
        word.map(lambda w: "-" + w),
        st.sampled_from(["is:new", "-is:read", "seen:>=2", "has:code", "in:abstract", '"mo']),
        st.sampled_from([library.papers[pid].title for pid in library.ordered()[::25]]),
    )
    return st.lists(token, max_size=3).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_find_among_is_the_query_narrowed_to_those_papers(
    lib: Library, data: st.DataObject
) -> None:
    """What the app's filter asks (``find``, only among the inbox) gives the ids of a fresh
    query kept if in ``among``, in the same order; its membership test agrees with them."""
    text = data.draw(query_texts(lib), label="query")
    everyone = lib.ordered()
    among = data.draw(
        st.one_of(
            st.none(),
            st.just(frozenset(everyone)),
            st.sets(st.sampled_from(everyone)).map(frozenset),
            st.sets(st.sampled_from(everyone), max_size=5).map(
                lambda out: frozenset(everyone) - out  # nearly everyone, as a fresh inbox
            ),
        ),
        label="among",
    )
    expected = [pid for pid in lib.query(text) if among is None or pid in among]
    found = lib.find(text, among)
    assert list(found) == expected and len(found) == len(expected)
    assert [found[i] for i in range(-len(found), len(found))] == expected * 2
    assert all(found.index(pid) == i for i, pid in enumerate(expected))
    assert [pid in found for pid in everyone] == [pid in set(expected) for pid in everyone]
    read = set(everyone[::3])
    narrowed = found.without(read)
    assert list(narrowed) == [pid for pid in expected if pid not in read]
    assert [pid in narrowed for pid in everyone] == [
        pid in expected and pid not in read for pid in everyone
    ]


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Library:
    """The five digests, some papers tagged with words that short prefixes start."""
    library = Library(tmp_path_factory.mktemp("tagged") / "lib", device=current_device())
    assert library.import_files(digest_paths).ok
    ids = library.ordered()
    library.tag(ids[::7], add=["transformers"])
    library.tag(ids[3::11], add=["to-read", "ssm"])
    return library


@functools.cache
def rare_words(library: Library) -> tuple[list[str], list[str]]:
    """Title words of at most 12 papers (they leave few candidates), and the first words
    of those papers' titles."""
    known = {w for pid in library.ordered() for w in words_of(library.papers[pid].title)}
    found = {w: library.query(w) for w in sorted(known)}
    rare = [w for w, papers in found.items() if len(papers) <= 12]
    firsts = {words_of(library.papers[pid].title)[0] for w in rare for pid in found[w]}
    return rare, sorted(firsts)


def full_lookups(library: Library, text: str) -> SearchEngine:
    """An engine that has looked up every word of ``text``: it answers from the lookups."""
    engine = SearchEngine(library.catalog)
    for word in words_of(text):
        engine._titles.lookup(word)  # kept: no longer a short word to check among others
    return engine


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_short_words_checked_among_few_candidates_answer_as_their_lookups(
    tagged: Library, data: st.DataObject
) -> None:
    """A short prefix (``mamba t``) is matched against the candidates' titles and tags
    rather than looked up when the other terms leave few: the same answer, in the same
    order, with the same counts."""
    library, (rare, firsts) = tagged, rare_words(tagged)
    short = st.one_of(
        st.sampled_from(["t", "to", "tr", "s", "ss"]),  # the tags' words start with them
        st.sampled_from(sorted({w[:n] for w in firsts for n in (1, 2, 3)})),  # a title's first
        st.sampled_from(sorted({w[:n] for w in rare for n in (1, 2, 3)})),
    )
    token = st.one_of(short, short.map(lambda w: "-" + w), st.sampled_from(["is:new", "tag:ssm"]))
    text = " ".join(
        [data.draw(st.sampled_from(rare), label="rare"), *data.draw(st.lists(token, max_size=3))]
    )
    everyone = library.ordered()
    among = data.draw(st.sampled_from([None, frozenset(everyone[5:])]), label="among")
    states, version = library.stateful(), library.version
    found = SearchEngine(library.catalog).find(text, states, version, among)
    expected = full_lookups(library, text).find(text, states, version, among)
    assert list(found) == list(expected)
    assert [pid in found for pid in everyone] == [pid in expected for pid in everyone]
    assert found.status_counts(library) == expected.status_counts(library)


@pytest.mark.parametrize(
    ("text", "prefix"),
    [("mamba t", "t"), ("mamba z", "z"), ("merging g", "g")],  # g: "Git Re-Basin: …"
)
def test_a_short_word_after_a_rare_one_is_checked_among_its_papers(
    library: Library, text: str, prefix: str
) -> None:
    """Title words anywhere (the first too) and tags: ``z`` matches only a tag here."""
    rare = text.split()[0]
    library.tag(library.query(rare)[-1:], add=["zoo"])
    states, version = library.stateful(), library.version
    engine = SearchEngine(library.catalog)
    found = engine.find(text, states, version)
    assert engine._titles.cached(rare) and not engine._titles.cached(prefix)  # checked among

    def words(pid: str) -> list[str]:
        return words_of(" ".join([library.papers[pid].title, *library.state(pid).tags]))

    papers = library.query(rare)
    assert set(found) == {pid for pid in papers if any(w.startswith(prefix) for w in words(pid))}
    assert 1 <= len(found) < len(papers)
    assert list(found) == list(full_lookups(library, text).find(text, states, version))


def test_kept_prefixes_answer_as_lookups_made_anew(tagged: Library) -> None:
    """The commonest first keys, looked up ahead (by a worker) and kept compact, give the
    same answers, order and counts as lookups made on the key."""
    library = tagged
    states, version = library.stateful(), library.version
    everyone = library.ordered()
    among = frozenset(everyone[5:])
    kept = SearchEngine(library.catalog)
    titles = kept._titles
    by_letter: dict[str, int] = {}
    for word in titles.vocabulary()[0]:
        by_letter[word[0]] = by_letter.get(word[0], 0) + len(titles.postings[word])
    assert titles.letter_sizes() == by_letter
    steps = list(kept.first_letters())
    assert all(len(step) == 1 for step in steps)  # a letter a step
    prefixes = {letter: lookup for step in steps for letter, lookup in step.items()}
    assert {"m", "s", "t"} <= prefixes.keys() and "q" not in prefixes  # 5 % of papers or more
    kept.keep_first_letters(prefixes)
    ready = kept.first_keys()
    kept.keep_first_keys(ready)
    assert kept._seen is ready.seen and kept._digests is ready.digests
    assert kept._code is ready.code and kept._votes is ready.upvotes
    texts = [*prefixes, "m -is:new", "t seen:>=2", "s tag:ssm", "ma", "mamba t", "digest:latest"]
    for text in [*texts, "seen:1 digest:mar", "-seen:<3 m"]:
        anew = SearchEngine(library.catalog).find(text, states, version, among)
        found = kept.find(text, states, version, among)
        assert list(found) == list(anew), text
        assert found.status_counts(library) == anew.status_counts(library)
        assert [pid in found for pid in everyone] == [pid in anew for pid in everyone]
    assert all(kept._titles.cached(word) for word in prefixes)  # each was looked up from them


def test_a_view_indexed_in_a_worker_answers_state_filters_as_the_library(
    tagged: Library,
) -> None:
    """The app's index is built (and its reading state derived) off the UI thread, from a
    view: the same answers as the library's own index."""
    view = tagged.view(indexed=False).indexed()
    for text in ["tag:ssm", "is:new", "-tag:transformers m", "to", "is:later"]:
        assert list(view.find(text, None)) == list(tagged.find(text, None)), text


def test_find_follows_a_new_among(lib: Library) -> None:
    """``among`` is kept by identity: another set (an inbox reopened) is taken afresh."""
    everyone = lib.ordered()
    first, second = frozenset(everyone[:40]), frozenset(everyone[20:60])
    assert list(lib.find("", first)) == everyone[:40]
    assert list(lib.find("", second)) == everyone[20:60]
    assert list(lib.find("", None)) == everyone


# ---------------------------------------------------------------------------- index upkeep


def test_an_import_makes_a_new_catalog_and_leaves_the_old_one_alone(
    library: Library, tmp_path: Path
) -> None:
    """A thread holding the catalog (and engine) from before an import keeps its answers."""
    old = library.catalog
    engine = library.search_engine()
    old_ids, old_order = list(old), library.ordered()
    old_lmc = old[by_title(library, LMC)]
    assert library.query("zyxomorphic") == []
    abstract = "We study zyxomorphic maps of weights. " * 10
    digest = tmp_path / "extra.txt"
    digest.write_text(f"Zyxomorphic Weight Maps\n{abstract}\n{LMC}\n{abstract}\n")
    assert library.import_files([digest]).ok

    assert library.catalog is not old
    assert library.search_engine() is not engine
    assert list(old) == old_ids and old.ordered_ids == old_order
    assert old[old_lmc.id] == old_lmc and old_lmc.seen == 4
    assert engine.search("zyxomorphic") == []  # the old engine answers from the old catalog
    assert "Zyxomorphic Weight Maps" not in {p.title for p in old.values()}

    new = by_title(library, "Zyxomorphic Weight Maps")
    assert len(library.catalog) == len(old) + 1
    assert library.query("zyxomorpic") == [new]
    assert library.query("abstract:zyxomorphic") == [new]  # a paper seen again keeps its text
    assert library.query("seen:5") == [by_title(library, LMC)]
    assert new in library.query("digest:extra seen:1")


def test_changes_from_another_process_are_picked_up(library: Library, tmp_path: Path) -> None:
    engine = library.search_engine()
    other = Library(library.data_dir)
    other.tag([by_title(other, MAMBA_TS)], add=["later"])
    library.refresh()
    assert library.query("tag:later") == [by_title(library, MAMBA_TS)]
    assert library.search_engine() is engine  # state is not indexed
    digest = tmp_path / "other.txt"
    digest.write_text("Quuxotic Priors\n" + "We study quuxotic priors. " * 10 + "\n")
    assert other.import_files([digest]).ok
    library.refresh()
    assert library.query("quuxotic") == [by_title(library, "Quuxotic Priors")]


def test_state_naming_papers_the_catalog_lacks_is_ignored(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    """As when another device's journal arrives before the digest file it imported: its
    state for that digest's papers must not trip the query up."""
    library = Library(tmp_path / "lib")
    library.import_files(digest_paths[:4])
    other = Library(library.data_dir, device=Device("0123456789abcdef", "other device"))
    other.import_files(digest_paths[4:])
    newest = max(d.seq for d in other.digests.values())
    orphan = next(pid for pid, p in other.papers.items() if p.latest == newest and p.seen == 1)
    other.tag([orphan], add=["x"])
    (pending,) = [i for i in other.merger.imports() if i.stamp[2] == other.device.id]
    (tmp_path / "lib" / "digests" / f"{pending.hash}.json").unlink()  # not synced yet
    (tmp_path / "lib" / "catalog.bin").unlink()  # derived, per device: never synced
    reopened = Library(tmp_path / "lib")
    assert [i.hash for i in reopened.pending()] == [pending.hash]
    assert orphan not in reopened.papers
    assert reopened.query("tag:x") == []
    assert reopened.query("is:tagged mamba") == []
    assert reopened.state(orphan).tags == ("x",)  # kept, for when its digest is back


# ---------------------------------------------------------------------------- front ends


def test_cli_list_uses_the_query_language(
    library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(library.data_dir)
    assert main(["--data-dir", data_dir, "list", "mamba tiem seires"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(MAMBA_TS)
    assert main(["--data-dir", data_dir, "list", "--ids", "seen:>=2"]) == 0
    assert capsys.readouterr().out.split() == library.query("seen:>=2")
    assert main(["--data-dir", data_dir, "list", "foo:bar"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("readinglist: unknown filter 'foo:'") and err.count("\n") == 1


def test_core_never_imports_textual() -> None:
    code = (
        "import sys, readinglist.cli, readinglist.query;"
        "sys.exit(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_saved_catalog_gives_the_same_answers_and_follows_imports(
    library: Library, tmp_path: Path
) -> None:
    """catalog.bin (the title index included) answers as the live library does, follows
    imports by appended deltas, and a library rebuilt without it answers the same."""
    queries = [
        "mamba tiem seires",
        "permut",
        "reinforcment lerning",
        "revisited",
        "seen:>=2",
        "abstract:forecast",
        '"time series"',
        "has:code digest:000",
    ]
    catalog_file = library.data_dir / CATALOG_FILE
    before = {q: library.query(q) for q in queries}
    assert catalog_file.exists()
    reopened = Library(library.data_dir)
    assert {q: reopened.query(q) for q in queries} == before
    assert reopened.ordered() == library.ordered()

    # An import appends a delta to the saved catalog instead of rewriting it...
    saved = catalog_file.read_bytes()
    digest = tmp_path / "extra.txt"
    digest.write_text("Mamba Time Series Revisited\nWe revisit state space models at length.\n")
    assert library.import_files([digest]).ok
    grown = catalog_file.read_bytes()
    assert len(grown) > len(saved) and grown.startswith(saved)
    live = {q: library.query(q) for q in queries}
    assert [library.papers[p].title for p in live["revisited"]] == ["Mamba Time Series Revisited"]
    cached = Library(library.data_dir)
    assert {q: cached.query(q) for q in queries} == live
    assert cached.ordered() == library.ordered()
    # ...and gives exactly what a catalog rebuilt from the digest files gives.
    catalog_file.unlink()
    scratch = Library(library.data_dir)
    assert {q: scratch.query(q) for q in queries} == live
    assert scratch.ordered() == library.ordered()
    assert catalog_file.exists()  # rebuilt and saved again
    # A delta torn by a crash is dropped and replayed from the digest files, and the file is
    # mended: the next open finds every import in it.
    rebuilt = catalog_file.read_bytes()
    (digest := tmp_path / "more.txt").write_text("Revisited Priors\nWe revisit priors.\n")
    assert scratch.import_files([digest]).ok  # the library that wrote the file appends to it
    whole = catalog_file.read_bytes()
    assert whole.startswith(rebuilt) and len(whole) > len(rebuilt)
    # Queries read it whole, the delta replayed; once done (a command's end) it is saved
    # as a base, folded.
    live = {q: scratch.query(q) for q in queries}
    scratch.fold()
    folded = catalogfile.load(catalog_file, library.data_dir)
    assert folded is not None and folded.deltas == 0
    assert folded.catalog.imports == scratch.catalog.imports
    assert {q: Library(library.data_dir).query(q) for q in queries} == live
    catalog_file.write_bytes(whole[:-7])
    torn = Library(library.data_dir)
    assert {q: torn.query(q) for q in queries} == live
    saved = catalogfile.load(catalog_file, library.data_dir)
    assert saved is not None and saved.catalog.imports == scratch.catalog.imports
    # A damaged file is never trusted: rebuilt, same answers.
    catalog_file.write_bytes(b"garbage")
    damaged = Library(library.data_dir)
    assert {q: damaged.query(q) for q in queries} == live


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_an_ascii_titles_words_are_its_keys(title: str) -> None:
    """The catalog takes an ASCII title's words from its key (``title_key``) instead of
    running ``words_of`` again: the two must split every ASCII title alike."""
    assert words_of(title) == title_key(title).split()


#: A word's match: disjoint tiers of slots (0-59), best first, as ``Match`` takes them.
word_matches = st.dictionaries(
    st.sampled_from([EXACT, PREFIX, TYPO]), st.sets(st.integers(0, 59), max_size=30)
).map(lambda tiers: sorted(tiers.items(), reverse=True))


@given(word_matches, word_matches, st.permutations(range(60)))
def test_a_title_match_joined_with_a_tag_match_is_their_union_by_best_score(
    title_tiers: list[tuple[int, set[int]]],
    tag_tiers: list[tuple[int, set[int]]],
    numbering: list[int],
) -> None:
    """What a word matches in titles and in tags, joined from the title match's tiers and
    order, is what making one match of both gives: tiers, order, scores."""
    title, tagged = Match(title_tiers), Match(tag_tiers)
    title.ordered(numbering)  # a kept lookup has its order
    tiers = (EXACT, PREFIX, TYPO)
    anew = Match((s, title.tier(s) | tagged.tier(s)) for s in tiers)
    joined = title.joined(tagged, numbering)
    assert joined.tiers == anew.tiers
    assert joined.ordered(numbering) == anew.ordered(numbering)
    assert joined.scores == anew.scores
    assert title.tiers == Match(title_tiers).tiers  # the cached title match is left alone
