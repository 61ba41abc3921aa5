"""Query latency and index build time at 10k and 100k synthetic papers (run by hand).

    python benchmarks/bench_query.py [--sizes 10000 100000] [--runs 5] [--verbose]

For each size: generate the seeded corpus (``corpus.py``), import it into a temporary
library with ``Library.import_files``, mark/tag/note a few papers, time building the search
index (``SearchEngine(library.catalog)``, as ``Library.view()`` does) and reading abstracts
(they stay in the digest files: ``Library.abstract``, ``Catalog.abstracts``), then time a
fixed seeded set of queries through ``Library.query`` (what the CLI and, through its
``ReadModel``, the TUI call): ``--runs`` runs each, the first with the per-word cache
cleared so the worst case includes a cold lookup. Queries are made from sampled titles
(1–4 words with typos and a typed prefix), plus filters, phrases, negation and abstract
search; "typing" replays a query keystroke by keystroke, as the TUI filter sees it. "found"
counts the queries whose source paper is in the results at all, "top 10" those where it is
among the first ten.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corpus import Corpus, generate

from readinglist.library import Library
from readinglist.model import paper_id, title_key
from readinglist.query import words_of
from readinglist.search import SearchEngine

SEED = 7
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class Case:
    group: str
    text: str
    target: str | None = None
    times: list[float] = field(default_factory=list)
    rank: int | None = None


def typo(rng: random.Random, word: str) -> str:
    """One typing mistake away from ``word`` (swap, drop or change a letter, not the first)."""
    at = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "change"))
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    return word[:at] + rng.choice(LETTERS.replace(word[at], "")) + word[at + 1 :]


def title_queries(rng: random.Random, corpus: Corpus, count: int) -> list[Case]:
    """Queries of 1–4 words from sampled titles: long words get a typo, the last is cut short."""
    cases: list[Case] = []
    while len(cases) < count:
        title = rng.choice(corpus.papers).title
        words = [w for w in words_of(title) if len(w) >= 4 and w.isalpha()]
        size = len(cases) % 4 + 1
        if len(words) < size:
            continue
        chosen = rng.sample(words, size)
        typed = [typo(rng, w) if len(w) >= 5 and rng.random() < 0.6 else w for w in chosen]
        if size > 1 and len(typed[-1]) > 5:
            typed[-1] = chosen[-1][: rng.randint(4, len(chosen[-1]) - 1)]  # still typing it
        group = f"{size} word{'s' if size > 1 else ''}, typos"
        cases.append(Case(group, " ".join(typed), paper_id(title_key(title))))
    return cases


def fixed_queries(rng: random.Random, corpus: Corpus, library: Library) -> list[Case]:
    """Filters, phrases, negation, short prefixes and abstract search (a rare word taken
    from an abstract as the library holds it)."""
    titles = [p.title for p in rng.sample(corpus.papers, 6)]
    phrase = " ".join(words_of(titles[0])[1:3])
    digest = corpus.digests[len(corpus.digests) // 2]
    dated = next(d for d in corpus.digests if d.date)
    source = corpus.papers[rng.randrange(len(corpus.papers))]
    rare = words_of(library.abstract(paper_id(title_key(source.title))))[-3]
    return [
        Case("1-2 letters", "s"),
        Case("1-2 letters", "m"),
        Case("1-2 letters", "tr"),
        Case("filters only", "is:unread"),
        Case("filters only", "seen:>=2"),
        Case("filters only", "has:code -is:read"),
        Case("filters only", "tag:x is:unread seen:>=2"),
        Case("filters only", f"digest:{digest.name[:6]}"),
        Case("filters only", f'digest:"{dated.date}" is:unread'),
        Case("words + filters", "learning is:unread"),
        Case("words + filters", "diffusion has:code seen:>=2"),
        Case("words + filters", "langage modls -tag:x"),
        Case("phrase, negation", f'"{phrase}"'),
        Case("phrase, negation", "model -diffusion -learning"),
        Case("phrase, negation", f"{words_of(titles[1])[0]} -is:read"),
        Case("abstract", "abstract:forecast"),
        Case("abstract", f"abstract:{rare}"),
        Case("abstract", 'abstract:"state of the art" has:code'),
        Case("abstract", "in:abstract mamba time"),
        Case("abstract", "in:abstract reinforcement learning agent"),
    ]


def typing_queries(rng: random.Random, corpus: Corpus) -> list[Case]:
    """Every keystroke of a few queries, each run once, as the TUI filter sees them."""
    cases: list[Case] = []
    for title in (p.title for p in rng.sample(corpus.papers, 3)):
        words = [w for w in words_of(title) if len(w) >= 4][:3]
        text = " ".join(typo(rng, w) if len(w) >= 5 else w for w in words)
        cases += [Case("typing (1 run)", text[:end]) for end in range(1, len(text) + 1)]
    return cases


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def prepare(papers: int, folder: Path) -> tuple[Library, Corpus, dict[str, float]]:
    """A library in ``folder`` holding the corpus, with a few papers read, tagged and noted."""
    setup: dict[str, float] = {}
    start = time.perf_counter()
    corpus = generate(papers, seed=1)
    sources = corpus.sources()
    setup["generate corpus"] = time.perf_counter() - start
    library = Library(folder)
    setup["import (parse + save)"] = timed(lambda: library.import_files(sources))
    rng = random.Random(SEED)
    ids = sorted(library.papers)
    library.mark(rng.sample(ids, len(ids) // 20))
    library.tag(rng.sample(ids, len(ids) // 100), add=["x"])
    library.set_note(ids[0], "a note")
    return library, corpus, setup


def bench(papers: int, runs: int, verbose: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="readinglist-bench-") as folder:
        measure(papers, runs, verbose, Path(folder))


def measure(papers: int, runs: int, verbose: bool, folder: Path) -> None:
    library, corpus, setup = prepare(papers, folder)
    builds = [timed(lambda: SearchEngine(library.catalog)) for _ in range(3)]
    setup["index build (median of 3)"] = statistics.median(builds)
    setup |= abstract_reads(library)
    rng = random.Random(SEED)
    cases = title_queries(rng, corpus, 40) + fixed_queries(rng, corpus, library)
    engine = library.search_engine()
    setup["first abstract query (builds its text)"] = timed(lambda: library.query("abstract:x"))
    for case in cases:
        for run in range(runs):
            if run == 0:
                engine._titles.clear_cache()  # the first run pays the cold lookups
            case.times.append(timed(lambda case=case: library.query(case.text)))
        if case.target:
            results = library.query(case.text)
            case.rank = results.index(case.target) if case.target in results else -1
    engine._titles.clear_cache()
    typing = typing_queries(rng, corpus)
    for case in typing:
        case.times.append(timed(lambda case=case: library.query(case.text)))
    extra = corpus_extra(papers)
    setup["next query after importing 1 more digest"] = after_import(library, extra)
    report(papers, setup, cases + typing, verbose)


def abstract_reads(library: Library) -> dict[str, float]:
    """Abstracts are read from the digest files when needed: one (the detail pane), 20 at
    once (``list --json --limit 20``), all of them (the first abstract query's text)."""
    rng = random.Random(SEED)
    ids = library.catalog.ids
    singles = [timed(lambda pid=pid: library.abstract(pid)) for pid in rng.sample(ids, 20)]
    twenties = [timed(lambda: library.catalog.abstracts(rng.sample(ids, 20))) for _ in range(5)]
    return {
        "one abstract (Library.abstract, median of 20)": statistics.median(singles),
        "one abstract (worst of 20)": max(singles),
        "20 abstracts (Catalog.abstracts, median of 5)": statistics.median(twenties),
        "every abstract (Catalog.all_abstracts)": timed(
            lambda: sum(map(len, library.catalog.all_abstracts()))
        ),
    }


def corpus_extra(papers: int) -> list[tuple[str, bytes]]:
    """One more digest of papers the library does not hold yet (another seed)."""
    extra = generate(250, seed=2)
    return [(f"extra_{papers}.txt", extra.text(extra.digests[0]).encode())]


def after_import(library: Library, sources: list[tuple[str, bytes]]) -> float:
    library.import_files(sources)
    return timed(lambda: library.query("mamba tiem seires"))


def report(papers: int, setup: dict[str, float], cases: list[Case], verbose: bool) -> None:
    print(f"\n## {papers:,} papers\n")
    for label, seconds in setup.items():
        print(f"{label:>46}: {seconds * 1000:9.1f} ms")
    print(f"\n| {'queries':<22} | n  | median ms | worst ms | found | top 10 |")
    print(f"|{'-' * 24}|----|-----------|----------|-------|--------|")
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for group, members in groups.items():
        times = [t * 1000 for case in members for t in case.times]
        ranks = [case.rank for case in members if case.rank is not None]
        found = f"{sum(r >= 0 for r in ranks)}/{len(ranks)}" if ranks else ""
        top = f"{sum(0 <= r < 10 for r in ranks)}/{len(ranks)}" if ranks else ""
        print(
            f"| {group:<22} | {len(members):<2} | {statistics.median(times):9.2f} "
            f"| {max(times):8.2f} | {found:>5} | {top:>6} |"
        )
    if verbose:
        print()
        for case in cases:
            times = [t * 1000 for t in case.times]
            print(f"{statistics.median(times):8.2f} {max(times):8.2f}  {case.text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5, help="runs per query (at least 5)")
    parser.add_argument("--verbose", action="store_true", help="also list every query")
    args = parser.parse_args()
    for papers in args.sizes:
        bench(papers, max(5, args.runs), args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
