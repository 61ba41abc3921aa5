"""A reload frees what it replaces: the old catalog, its search engine and their caches go by
reference counting alone, as soon as the last view holding them is dropped.

The app keeps one library open for hours and reloads it whenever another process imports or
marks (``Library.refresh()`` then a new ``Library.view()``, the old view dropped). Issue 11
asks that the RSS after 10 reloads stays within 5 % of the RSS after 1 at 100k papers
(``benchmarks/bench_app.py`` measures that); these tests prove the mechanism, whatever the
allocator does: with the cyclic garbage collector off, nothing of a replaced catalog or
index may outlive its last view. A reference cycle anywhere in them (say, a cache on a
bound method, which once kept every replaced index alive) makes them fail; so does any
stray reference kept to them (a module-level cache, a back-reference from the library).
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from readinglist.catalog import Catalog
from readinglist.library import Library
from readinglist.reading import ReadModel
from readinglist.search import SearchEngine
from readinglist.textindex import Texts, WordIndex

#: Queries that build every lazy part of an engine (word cache, phrase and abstract texts,
#: has:code, seen, digests, authors, upvotes, tags) and so every cache a cycle could hide in.
QUERIES = (
    "mamba",
    "mamb",
    "mambaa tiem",
    '"language model"',
    "abstract:model",
    "in:abstract mamba",
    "has:code",
    "seen:>=2",
    "digest:latest",
    "author:smith",
    "upvotes:>=1",
    "tag:bench is:unread",
    "-is:read",
)


@contextlib.contextmanager
def no_cycle_collector() -> Iterator[None]:
    """Only reference counting frees objects meanwhile (a cycle stays in memory)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def use(view: ReadModel) -> None:
    """Read from ``view`` as the app and the CLI do, filling every cache it has."""
    for text in QUERIES:
        view.query(text)
    ids = view.ordered()[:3]
    assert view.papers_json(ids)
    view.abstract(ids[0])
    view.digest_list(ids[0])
    view.resolve(ids[0][:6])
    view.stats()
    view.tag_counts()
    view.count_read(ids)
    catalog = view.catalog
    assert catalog.arxiv is not None and catalog.digest_papers and catalog.digest_numbers


def new_digest(folder: Path, number: int) -> Path:
    """A small digest file no other one shares a paper with."""
    path = folder / f"elsewhere-{number}.txt"
    path.write_text(
        f"Apr {number + 1}\n\n"
        f"Mamba Time Series Model Number {number} for Reload Tests\n\n"
        f"Paper {number}, imported by another process. Code: https://github.com/x/r{number}.\n\n"
        f"A Second Brand New Paper Number {number}\n\n"
        f"Also new, number {number}.\n"
    )
    return path


def import_elsewhere(data_dir: Path, digest: Path) -> None:
    """What another process does: open the library, import, exit."""
    other = Library(data_dir)
    report = other.import_files([digest])
    assert report.ok and report.new == 2


def mark_elsewhere(data_dir: Path, pid: str) -> None:
    other = Library(data_dir)
    other.toggle_read([pid])


def live(kind: type) -> int:
    """How many objects of ``kind`` exist (reachable or not: garbage of a cycle counts)."""
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def parts(view: ReadModel) -> dict[str, weakref.ref[object]]:
    """Weak references to what a view holds that a reload replaces."""
    engine = view.engine
    assert engine._abstract_texts is not None, "use() builds the abstract text"
    return {
        "view": weakref.ref(view),
        "catalog": weakref.ref(view.catalog),
        "engine": weakref.ref(engine),
        "title index": weakref.ref(engine._titles),
        "abstract texts": weakref.ref(engine._abstract_texts),
    }


def alive(refs: dict[str, weakref.ref[object]]) -> list[str]:
    return [name for name, ref in refs.items() if ref() is not None]


@pytest.fixture
def reader(library: Library) -> Library:
    """The app's library (opened afresh from the imported folder), with some reading state."""
    opened = Library(library.data_dir)
    first, second = opened.ordered()[:2]
    opened.tag([first], add=["bench"])
    opened.mark([second])
    return opened


def test_a_reload_after_an_import_elsewhere_frees_the_old_catalog_and_index(
    reader: Library, tmp_path: Path
) -> None:
    view = reader.view()
    use(view)
    old = parts(view)
    with no_cycle_collector():
        import_elsewhere(reader.data_dir, new_digest(tmp_path, 1))
        assert reader.refresh()
        new = reader.view()
        assert new.catalog is not view.catalog and new.engine is not view.engine
        assert len(new.catalog) == len(view.catalog) + 2
        assert alive(old) == list(old), "the old view is still held: all of it lives"
        del view
        assert alive(old) == []
        use(new)  # the new view works on its own
        assert new.query("mamba time series model number 1")[0] in new.catalog


def test_a_reload_after_a_mark_elsewhere_keeps_the_catalog_and_index(
    reader: Library, tmp_path: Path
) -> None:
    """Only the reading state changed: nothing big is loaded again, nothing is replaced."""
    view = reader.view()
    use(view)
    pid = view.ordered()[5]
    with no_cycle_collector():
        mark_elsewhere(reader.data_dir, pid)
        assert reader.refresh()
        new = reader.view()
        assert new.catalog is view.catalog and new.engine is view.engine
        assert new.state(pid).read and not view.state(pid).read
        assert pid not in new.query("-is:read") and pid in view.query("-is:read")


def test_ten_reloads_leave_one_catalog_and_one_index(reader: Library, tmp_path: Path) -> None:
    """However many reloads, the number of live catalogs, engines and indexes stays what it
    was after the first: each replaced one is freed as its view is dropped."""
    view = reader.view()
    use(view)
    kinds = (Catalog, SearchEngine, WordIndex, Texts, ReadModel)
    with no_cycle_collector():
        import_elsewhere(reader.data_dir, new_digest(tmp_path, 0))
        assert reader.refresh()
        view = reader.view()
        use(view)
        after_one = {kind.__name__: live(kind) for kind in kinds}
        replaced: list[dict[str, weakref.ref[object]]] = []
        for number in range(1, 11):
            replaced.append(parts(view))
            if number % 3 == 0:
                mark_elsewhere(reader.data_dir, view.ordered()[number])
            import_elsewhere(reader.data_dir, new_digest(tmp_path, number))
            assert reader.refresh()
            view = reader.view()  # the app adopts the new view: the old one is dropped
            use(view)
            still = {n: alive(refs) for n, refs in enumerate(replaced, 1) if alive(refs)}
            assert still == {}, f"replaced at reloads {list(still)} still alive: {still}"
        after_ten = {kind.__name__: live(kind) for kind in kinds}
    assert after_ten == after_one
    assert len(view.catalog) == len(reader.catalog) == 751 + 2 * 11


def test_the_check_sees_what_a_cycle_keeps(reader: Library, tmp_path: Path) -> None:
    """The control: a reference cycle through the old engine (as the ``lru_cache`` on a bound
    method once made) keeps it, its catalog and its index alive until the cycle collector
    runs, and the checks above say so."""
    view = reader.view()
    use(view)
    old = parts(view)
    del old["view"]  # the view itself is not in the cycle
    view.engine.__dict__["lookup"] = view.engine.search  # engine → bound method → engine
    with no_cycle_collector():
        import_elsewhere(reader.data_dir, new_digest(tmp_path, 1))
        assert reader.refresh()
        new = reader.view()
        del view
        assert alive(old) == list(old)
        assert live(Catalog) >= 2
    gc.collect()
    assert alive(old) == []
    assert new.query("mamba")
