"""A seeded synthetic corpus of papers and digest files, for benchmarks at 1k–100k papers.

Titles come from a word-bigram chain over the real digests' titles (``readinglist/samples``),
so their words, typos and prefixes behave like real ones; a third of them get a coined name
("MamFormer: …", "DIFT-2: …") the way real papers do, which makes the vocabulary grow with
the corpus as it does in reality. Abstracts are ~1300 characters of real abstract sentences,
some with a code link (GitHub, GitLab) or a project page. About 10% of papers recur in 2–6
consecutive-ish digests of 200–300 papers each, written in both layouts the parser accepts.

Python API::

    corpus = generate(10_000, seed=1)
    corpus.papers                      # list[SynthPaper], in memory
    write_digests(corpus, Path("out")) # real digest files, both layouts
    write_api_days(corpus, Path("out"))# the same as Daily Papers API responses, with metadata
    corpus.sources()                   # [(name, bytes)] for Library.import_files, no disk

CLI: ``python benchmarks/corpus.py --papers 100000 --out DIR [--seed N] [--api]``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

from readinglist.digest import read_digest
from readinglist.model import title_key
from readinglist.samples import sample_paths

RECURRING = 0.10
SIGHTINGS = (2, 6)
DIGEST_SIZE = (200, 300)
ABSTRACT_CHARS = (1300, 250)
CODE_LINK = 0.30
PROJECT_PAGE = 0.10
COINED_NAME = 0.35
FIRST_DATE = date(2024, 1, 1)

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class SynthPaper:
    title: str
    abstract: str


@dataclass(frozen=True, slots=True)
class SynthDigest:
    """One digest: which papers (indices into ``Corpus.papers``), its layout and date."""

    name: str
    layout: str
    date: str | None
    papers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Corpus:
    papers: list[SynthPaper]
    digests: list[SynthDigest]

    def text(self, digest: SynthDigest) -> str:
        """The digest as a saved Daily Papers page, in its layout."""
        entries = [(self.papers[i].title, self.papers[i].abstract) for i in digest.papers]
        if digest.layout == "spaced":
            header = [
                "new",
                "Get trending papers in your email inbox!",
                "Subscribe",
                "byAK and the research community",
                digest.date or "",
            ]
            lines = header + [line for entry in entries for line in entry]
            return "\n\n".join(lines) + "\n"
        (first_title, first_abstract), rest = entries[0], entries[1:]
        lines = [
            "Get trending papers in your email inbox once a day!",
            "Get trending papers in your email inbox!",
            f"Subscribe{first_title}",
            first_abstract,
        ]
        return "\n".join(lines + [line for entry in rest for line in entry]) + "\n"

    def sources(self) -> list[tuple[str, bytes]]:
        """``(file name, bytes)`` pairs that ``Library.import_files`` accepts directly."""
        return [(f"{d.name}.txt", self.text(d).encode()) for d in self.digests]


def generate(papers: int, seed: int = 0) -> Corpus:
    """``papers`` distinct papers spread over digests; the same seed gives the same corpus."""
    rng = random.Random(seed)
    titles, sentences = _real_text()
    chain = _bigrams(titles)
    words = sorted({w for t in titles for w in title_key(t).split() if w.isalpha() and len(w) > 3})
    made: list[SynthPaper] = []
    keys: set[str] = set()
    while len(made) < papers:
        name = _coined(rng, words) if rng.random() < COINED_NAME else None
        title = _title(rng, chain, name)
        key = title_key(title)
        if key in keys or not key:
            continue
        keys.add(key)
        made.append(SynthPaper(title, _abstract(rng, sentences, name)))
    return Corpus(made, _digests(rng, papers))


def write_digests(corpus: Corpus, out: Path) -> list[Path]:
    """Write every digest as ``NNN_<hash>.txt`` in ``out`` (created); return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for digest in corpus.digests:
        path = out / f"{digest.name}.txt"
        path.write_text(corpus.text(digest))
        paths.append(path)
    return paths


#: Made-up authors and keywords of the API layout (names recur across papers, as real ones do).
_GIVEN = ("Wei", "Anna", "Jun", "Maria", "Omar", "Li", "Sara", "Ivan", "Chen", "Priya", "Tom")
_FAMILY = ("Zhang", "Smith", "Kim", "Garcia", "Ali", "Wang", "Rossi", "van der Berg", "Liu")
_KEYWORDS = ("diffusion", "reasoning", "agents", "retrieval", "alignment", "RLHF", "MoE", "3D")


def write_api_days(corpus: Corpus, out: Path, seed: int = 0) -> list[Path]:
    """Write every digest as a Daily Papers API response (``YYYY-MM-DD.json``, one day per
    digest) whose papers carry what the API gives: an arXiv id, 2-9 authors, upvotes,
    comments, keywords and a repository for a third of them. What a library fetched from the
    API holds (every paper's metadata), where text digests hold none."""
    import json

    rng = random.Random(seed)
    papers: dict[int, dict[str, object]] = {}
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, digest in enumerate(corpus.digests):
        day = FIRST_DATE + timedelta(days=number)
        items = []
        for i in digest.papers:
            if i not in papers:
                papers[i] = {
                    "id": f"{2401 + i // 90_000 % 12:04d}.{i % 90_000 + 10_000:05d}",
                    "title": corpus.papers[i].title,
                    "summary": corpus.papers[i].abstract,
                    "authors": [
                        {"name": f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}{rng.randrange(2000)}"}
                        for _ in range(rng.randint(2, 9))
                    ],
                    "upvotes": rng.randrange(300),
                    "publishedAt": f"{day.isoformat()}T00:00:00.000Z",
                    "githubRepo": f"https://github.com/lab{i % 700}/p{i}" if i % 3 == 0 else None,
                    "ai_keywords": rng.sample(_KEYWORDS, rng.randint(0, 4)),
                }
            items.append({"paper": papers[i], "numComments": rng.randrange(30)})
        path = out / f"{day.isoformat()}.json"
        path.write_text(json.dumps(items))
        paths.append(path)
    return paths


def _real_text() -> tuple[list[str], list[str]]:
    titles: list[str] = []
    sentences: list[str] = []
    for path in sample_paths():
        for entry in read_digest(path).entries:
            titles.append(entry.title)
            sentences += [s for s in _SENTENCE_RE.split(entry.abstract) if "http" not in s]
    return titles, sentences


def _bigrams(titles: list[str]) -> dict[str | None, list[str | None]]:
    """Next-token lists (``None`` starts and ends a title), duplicates kept as weights."""
    chain: dict[str | None, list[str | None]] = defaultdict(list)
    for title in titles:
        tokens: list[str | None] = [None, *title.split(), None]
        for a, b in pairwise(tokens):
            chain[a].append(b)
    return chain


def _title(rng: random.Random, chain: dict[str | None, list[str | None]], name: str | None) -> str:
    while True:
        tokens: list[str] = []
        token = rng.choice(chain[None])
        while token is not None and len(tokens) < 18:
            tokens.append(token)
            token = rng.choice(chain[token])
        title = " ".join(tokens).rstrip(".")
        if len(tokens) >= 3 and len(title) <= 200:
            break
    if name and not tokens[0].endswith(":"):
        title = f"{name}: {title}"
    return title


def _coined(rng: random.Random, words: list[str]) -> str:
    """A made-up model name built from real words, e.g. ``MamFormer`` or ``DIFT-2``."""
    a, b = rng.choice(words), rng.choice(words)
    style = rng.random()
    if style < 0.5:
        return a[: rng.randint(2, 5)].capitalize() + b[: rng.randint(3, 6)].capitalize()
    if style < 0.8:
        return f"{a[: rng.randint(2, 4)]}{b[: rng.randint(1, 3)]}".upper() + f"-{rng.randint(1, 9)}"
    return f"{a.capitalize()}-{b[: rng.randint(3, 5)].capitalize()}"


def _abstract(rng: random.Random, sentences: list[str], name: str | None) -> str:
    target = max(600, int(rng.gauss(*ABSTRACT_CHARS)))
    parts = [f"We introduce {name}."] if name else []
    length = 0
    while length < target:
        sentence = rng.choice(sentences)
        parts.append(sentence)
        length += len(sentence) + 1
    slug = "".join(ch for ch in (name or rng.choice(sentences).split()[0]) if ch.isalnum())
    roll = rng.random()
    if roll < CODE_LINK:
        host = "gitlab.com" if roll < CODE_LINK / 10 else "github.com"
        parts.append(f"Code is available at https://{host}/lab{rng.randint(1, 999)}/{slug}.")
    elif roll < CODE_LINK + PROJECT_PAGE:
        parts.append(f"See the project page at https://{slug.lower()}.github.io/.")
    return " ".join(parts)


def _digests(rng: random.Random, papers: int) -> list[SynthDigest]:
    """Deal papers into digests; a recurring paper reappears in the next few digests."""
    later: dict[int, list[int]] = defaultdict(list)
    members: list[list[int]] = []
    fresh = 0
    while fresh < papers:
        index = len(members)
        current = later.pop(index, [])
        size = rng.randint(*DIGEST_SIZE)
        while len(current) < size and fresh < papers:
            if rng.random() < RECURRING:
                step = index
                for _ in range(rng.randint(*SIGHTINGS) - 1):
                    step += rng.randint(1, 2)
                    later[step].append(fresh)
            current.append(fresh)
            fresh += 1
        rng.shuffle(current)
        members.append(current)
    width = max(3, len(str(len(members))))
    digests = []
    for index, chosen in enumerate(members):
        layout = rng.choice(("spaced", "compact"))
        day = FIRST_DATE + timedelta(days=index)
        label = f"{day:%b} {day.day}" if layout == "spaced" else None
        content = hashlib.sha256(f"{index}:{chosen}".encode()).hexdigest()[:16]
        digests.append(SynthDigest(f"{index:0{width}d}_{content}", layout, label, tuple(chosen)))
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, required=True, help="how many distinct papers")
    parser.add_argument("--out", type=Path, required=True, help="folder for the digest files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api", action="store_true", help="as API responses, with metadata")
    args = parser.parse_args(argv)
    corpus = generate(args.papers, args.seed)
    paths = (write_api_days if args.api else write_digests)(corpus, args.out)
    sightings = sum(len(d.papers) for d in corpus.digests)
    print(
        f"{len(corpus.papers)} papers, {sightings} sightings in {len(paths)} digests → {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
