"""A catalog's titles, links, metadata and sightings as ``catalog.bin`` keeps them: packed.

At 100k papers these columns were ~300k Python strings and tuples (and, fetched from the
API, 100k dicts: ~20 MB). Unmarshalling them took ~35 ms of every open of the whole catalog
(0.2-0.5 s with metadata), and the young collection that followed ~9 ms more, all before
the app's first rows. Packed, they load as a few byte strings and arrays (~8 ms with the
rest of the columns), hold no object the collector walks, and a row decodes only what it
shows (a title: ~0.3 µs).

A builder extends a catalog without copying its columns: :class:`Grown` keeps what it adds
and replaces beside the packed column it started from.
"""

from __future__ import annotations

import marshal
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from heapq import merge
from itertools import accumulate, chain, compress, count, islice, pairwise, repeat
from operator import add, sub
from typing import Any, Generic, TypeVar, cast, overload

from readinglist.errors import StorageError
from readinglist.storage import CATALOG_FILE

T = TypeVar("T")
P = TypeVar("P", bound="_Packed[Any]")
B = TypeVar("B", bound="_Blob[Any]")
#: Parts of packed columns to join: (column, first index, index past the last).
Runs = list[tuple[P, int, int]]

#: Offsets into a packed column: 8-byte, so no blob outgrows them.
OFFSET_CODE = "q"
#: Titles are text from anywhere (a lone surrogate survives ``json.loads``): it round-trips.
_ERRORS = "surrogatepass"


class DamagedColumn(StorageError):
    """A packed column that does not read back. ``catalog.bin`` is checksummed, so only a
    file written by another program (or a bug) gets here; its columns are checked as they
    are read (a check of every offset at each open cost ~20 ms at 100k papers), and
    ``doctor`` checks them all."""

    def __init__(self, what: str, path: object = CATALOG_FILE) -> None:
        super().__init__(
            f"{path}: damaged ({what}); it is derived from the digest files: remove it, and "
            "the next command rebuilds it"
        )


def _bounds(lengths: Iterable[int]) -> array[int]:
    """The offsets where parts of these lengths start, then where the last one ends."""
    bounds = array(OFFSET_CODE, [0])
    bounds.extend(accumulate(lengths))
    return bounds


def _loaded(raw: bytes, end: int) -> array[int]:
    """Offsets read from ``raw``, checked to cut ``end`` items (or bytes) from the start."""
    bounds = array(OFFSET_CODE)
    bounds.frombytes(raw)
    if not bounds or bounds[0] != 0 or bounds[-1] != end:
        raise ValueError("a packed column's offsets do not fit it")
    return bounds


class _Column(Sequence[T]):
    """A read-only column indexed by int (a slice: a list), its items got by ``_at``."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("column index out of range")
        return self._at(index)

    def _at(self, index: int) -> T:
        """The item at ``index``, a valid one."""
        raise NotImplementedError


class _Packed(_Column[T]):
    """Items cut out of one packed store at ``bounds``."""

    __slots__ = ("_bounds",)
    _bounds: array[int]

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def _span(self, index: int) -> tuple[int, int]:
        """Where item ``index`` starts and ends in the store."""
        bounds = self._bounds
        start, end = bounds[index], bounds[index + 1]
        if start > end:
            raise DamagedColumn("offsets out of order")
        return start, end

    @classmethod
    def _joined(cls: type[P], runs: Runs[P]) -> P:
        """One column of these runs of columns, in order, copying their packed bytes."""
        raise NotImplementedError


def _joined_bounds(runs: Runs[Any]) -> tuple[array[int], list[tuple[int, int]]]:
    """The offsets of the runs' items joined, and where each run's store is cut."""
    bounds = array(OFFSET_CODE, [0])
    cuts = []
    for column, start, stop in runs:
        own = column._bounds
        low, high = own[start], own[stop]
        bounds.extend(map(add, own[start + 1 : stop + 1], repeat(bounds[-1] - low)))
        cuts.append((low, high))
    return bounds, cuts


class _Blob(_Packed[T]):
    """Items encoded one after another in one byte string, with the offsets of each."""

    __slots__ = ("_blob",)

    def __init__(self, blob: bytes, bounds: array[int]) -> None:
        self._blob, self._bounds = blob, bounds

    @staticmethod
    def _encode(item: T) -> bytes:
        raise NotImplementedError

    @staticmethod
    def _decode(data: bytes) -> T:
        raise NotImplementedError

    @classmethod
    def of(cls: type[B], items: Iterable[T]) -> B:
        if isinstance(items, cls):
            return items
        if isinstance(items, Grown):
            return items.packed(cls.of)
        parts = list(map(cls._encode, items))
        return cls(b"".join(parts), _bounds(map(len, parts)))

    @classmethod
    def load(cls: type[B], saved: tuple[bytes, bytes]) -> B:
        """What :meth:`dump` saved (ValueError if it does not fit together)."""
        blob, bounds = saved
        return cls(blob, _loaded(bounds, len(blob)))

    def dump(self) -> tuple[bytes, bytes]:
        return self._blob, self._bounds.tobytes()

    def _at(self, index: int) -> T:
        start, end = self._span(index)
        try:
            return self._decode(self._blob[start:end])
        except (ValueError, EOFError, TypeError) as error:  # UnicodeDecodeError, marshal's
            raise DamagedColumn(f"an item that does not decode: {error}") from None

    @classmethod
    def _joined(cls: type[B], runs: Runs[B]) -> B:
        bounds, cuts = _joined_bounds(runs)
        blob = b"".join(
            column._blob[low:high] for (column, _, _), (low, high) in zip(runs, cuts, strict=True)
        )
        return cls(blob, bounds)


class Strings(_Blob[str]):
    """Strings as one UTF-8 byte string and the offsets of each."""

    __slots__ = ()

    @staticmethod
    def _encode(item: str) -> bytes:
        return item.encode("utf-8", _ERRORS)

    @staticmethod
    def _decode(data: bytes) -> str:
        return data.decode("utf-8", _ERRORS)

    def __iter__(self) -> Iterator[str]:
        blob, bounds = self._blob, self._bounds
        _sizes(self)  # checks the offsets: a pass over every item follows anyway
        if blob.isascii():  # one decode, then slices of a str (~3x faster than each decoded)
            text = blob.decode("ascii")
            return map(text.__getitem__, map(slice, bounds, bounds[1:]))
        return map(self._at, range(len(self)))


class Records(_Blob[dict[str, Any] | None]):
    """Papers' API metadata, each marshalled (none: no bytes). A library fetched from the
    API has it for every paper: at 100k papers ~20 MB that took ~0.2 s to unmarshal whole,
    before the first rows, which show none of it."""

    __slots__ = ()

    @staticmethod
    def _encode(item: dict[str, Any] | None) -> bytes:
        return b"" if item is None else marshal.dumps(item)

    @staticmethod
    def _decode(data: bytes) -> dict[str, Any] | None:
        if not data:
            return None
        record = marshal.loads(data)
        if type(record) is not dict:
            raise ValueError("a paper's metadata is not a record")
        return record


class Groups(_Packed[tuple[T, ...]]):
    """Tuples (a paper's links, the digests it was seen in) as their items in one flat
    column and the offsets of each tuple's first item."""

    __slots__ = ("_items",)

    def __init__(self, items: Sequence[T], bounds: array[int]) -> None:
        self._items, self._bounds = items, bounds

    @classmethod
    def of(
        cls, groups: Iterable[Sequence[T]], flat: Callable[[Iterable[T]], Sequence[T]]
    ) -> Groups[T]:
        """``groups`` packed, their items stored as ``flat`` makes them."""
        if isinstance(groups, Groups):
            return groups
        if isinstance(groups, Grown):
            return groups.packed(lambda grown: cls.of(grown, flat))
        listed = list(groups)
        return cls(flat(chain.from_iterable(listed)), _bounds(map(len, listed)))

    def _at(self, index: int) -> tuple[T, ...]:
        start, end = self._span(index)
        return tuple(self._items[start:end])

    @classmethod
    def _joined(cls, runs: Runs[Groups[T]]) -> Groups[T]:
        bounds, cuts = _joined_bounds(runs)
        stores = [column._items for column, _, _ in runs]
        items: Sequence[T]
        if all(isinstance(store, Strings) for store in stores):
            pieces = [(store, *cut) for store, cut in zip(stores, cuts, strict=True)]
            items = cast(Sequence[T], Strings._joined(cast(Runs[Strings], pieces)))
        else:  # numbers: an array's slices
            joined = array("i")
            for store, (low, high) in zip(stores, cuts, strict=True):
                joined.extend(cast(Iterable[int], store[low:high]))
            items = cast(Sequence[T], joined)
        return cls(items, bounds)

    def __iter__(self) -> Iterator[tuple[T, ...]]:
        items, bounds = self._items, self._bounds
        _sizes(self)  # checks the offsets: a pass over every item follows anyway
        return (tuple(items[a:b]) for a, b in pairwise(bounds))

    @property
    def items(self) -> Sequence[T]:
        return self._items

    @property
    def bounds(self) -> array[int]:
        return self._bounds

    @classmethod
    def load(cls, items: Sequence[T], bounds: bytes) -> Groups[T]:
        """Groups saved as ``items`` and ``bounds`` (ValueError if they do not fit)."""
        return cls(items, _loaded(bounds, len(items)))


def lengths(groups: Sequence[Sized]) -> Iterator[int]:
    """How many items each group has: a packed column's from its offsets, no tuple made
    (``seen:`` at 100k papers: 48 → 23 ms)."""
    if isinstance(groups, Groups):
        return _sizes(groups)
    return map(len, groups)


def _unchecked_sizes(column: _Packed[Any]) -> Iterator[int]:
    """The size of each item of a packed column (items of a group, bytes of a record), as
    the offsets say, lazily."""
    bounds = column._bounds
    return map(sub, islice(bounds, 1, None), bounds)


def _sizes(column: _Packed[Any]) -> Iterator[int]:
    """:func:`_unchecked_sizes`, checked first (for passes over every item: ~2 ms)."""
    sizes = array(OFFSET_CODE, _unchecked_sizes(column))
    if sizes and min(sizes) < 0:
        raise DamagedColumn("offsets out of order")
    return iter(sizes)


def check(column: Sequence[Any]) -> None:
    """Read every item of a packed column (DamagedColumn if one does not read back): what
    ``doctor`` does, where commands check each item they read."""
    if isinstance(column, _Packed):
        _sizes(column)
        for index in range(len(column)):
            column[index]


def present(records: Sequence[object]) -> Iterator[int]:
    """The indexes of the records that are not None (packed: from the offsets alone)."""
    if isinstance(records, Records):  # a record's bytes out of order are refused when read
        return compress(count(), _unchecked_sizes(records))
    if isinstance(records, Grown):  # the base's from its offsets too, not each decoded
        edits, size = records._edits, records._size
        kept = (index for index in present(records._base) if index not in edits)
        edited = sorted(index for index, record in edits.items() if record is not None)
        added = (size + i for i, record in enumerate(records.tail) if record is not None)
        return chain(merge(kept, edited), added)
    return (index for index, record in enumerate(records) if record is not None)


def memberships(groups: Sequence[Sequence[T]]) -> Iterator[tuple[T, int]]:
    """Each item of each group, with the index of its group."""
    if isinstance(groups, Groups):
        owners = chain.from_iterable(map(repeat, count(), _sizes(groups)))
        return zip(groups.items, owners, strict=True)
    return ((item, index) for index, group in enumerate(groups) for item in group)


def links_column(links: Iterable[Sequence[str]]) -> Groups[str]:
    return Groups.of(links, Strings.of)


def sightings_column(sightings: Iterable[Sequence[int]]) -> Groups[int]:
    return Groups.of(sightings, lambda numbers: array("i", numbers))


class Grown(_Column[T], Generic[T]):
    """A column a builder extends: ``base`` (packed, or another catalog's) left as it is,
    the items appended and replaced kept beside it. Built on a grown column it shares that
    one's base: a process that imports a digest a day never stacks them."""

    __slots__ = ("_base", "_edits", "_size", "tail")

    def __init__(self, base: Sequence[T]) -> None:
        if isinstance(base, Grown):
            self._base: Sequence[T] = base._base
            #: Items past the base's (appended straight to, in a builder's loops).
            self.tail: list[T] = list(base.tail)
            self._edits: dict[int, T] = dict(base._edits)
        else:
            self._base, self.tail, self._edits = base, [], {}
        self._size = len(self._base)

    def __len__(self) -> int:
        return self._size + len(self.tail)

    def _at(self, index: int) -> T:
        if index >= self._size:
            return self.tail[index - self._size]
        edits = self._edits
        return edits[index] if index in edits else self._base[index]

    def __setitem__(self, index: int, item: T) -> None:
        if index < 0:
            index += len(self)
        if index >= self._size:
            self.tail[index - self._size] = item
        elif index < 0:
            raise IndexError("column index out of range")
        else:
            self._edits[index] = item

    def append(self, item: T) -> None:
        self.tail.append(item)

    def packed(self, pack: Callable[[Iterable[T]], P]) -> P:
        """This column packed by ``pack``: the base's packed bytes copied in runs around
        the replaced items (folding a catalog after a daily import at 100k papers: decoding
        and encoding every item instead took ~0.2 s more)."""
        base = pack(self._base)
        runs: Runs[P] = []
        start = 0
        for index in sorted(self._edits):
            runs += [(base, start, index), (pack([self._edits[index]]), 0, 1)]
            start = index + 1
        tail = pack(self.tail)
        runs += [(base, start, len(base)), (tail, 0, len(tail))]
        return type(base)._joined(runs)

    def __iter__(self) -> Iterator[T]:
        base: Iterable[T] = self._base
        if self._edits:
            edits = self._edits
            base = (edits.get(i, item) for i, item in enumerate(base))
        return chain(base, self.tail)
