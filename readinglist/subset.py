"""A set of paper ids given as "every paper of a catalog but these few", never copied.

The app's inbox is nearly the whole library (every paper not decided yet): held as a
frozenset of 100k ids it cost ~35 ms to build, and the search engine ~65 ms more to turn it
into slots on its first query (both at 100k papers, before the first filtered rows). As the
few papers left out, both are a pass over those only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from itertools import filterfalse

from readinglist.catalog import Catalog


class AllBut(Collection[str]):
    """The ids of ``catalog`` except ``left_out`` (ids of that catalog). Never changed:
    queries keep what they made of it by its identity."""

    __slots__ = ("catalog", "left_out")

    def __init__(self, catalog: Catalog, left_out: Iterable[str]) -> None:
        self.catalog = catalog
        self.left_out = frozenset(pid for pid in left_out if pid in catalog)

    def __contains__(self, pid: object) -> bool:
        return pid in self.catalog and pid not in self.left_out

    def __len__(self) -> int:
        return len(self.catalog) - len(self.left_out)

    def __iter__(self) -> Iterator[str]:
        return filterfalse(self.left_out.__contains__, self.catalog.ids)

    def select(self, ids: Iterable[str]) -> list[str]:
        """Those of ``ids`` in this set, in their order (C-level filters, no Python call
        per id: a pass over 100k ids)."""
        if ids is not self.catalog.ordered_ids:  # else every id is the catalog's
            ids = filter(self.catalog.slots.__contains__, ids)
        return list(filterfalse(self.left_out.__contains__, ids))
