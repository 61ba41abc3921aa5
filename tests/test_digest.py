"""Parsing real digests of both layouts, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from readinglist.digest import parse_digest, read_digest
from readinglist.errors import DigestError

SPACED = "000_88429e94ceb0c524.txt"
COMPACT = "002_f78d371d068d1b95.txt"


def _path(paths: list[Path], name: str) -> Path:
    return next(p for p in paths if p.name == name)


def test_spaced_layout_has_header_date_and_pairs(digest_paths: list[Path]) -> None:
    digest = read_digest(_path(digest_paths, SPACED))
    assert digest.layout == "spaced"
    assert digest.date == "Mar 13"
    assert len(digest.entries) == 74
    first = digest.entries[0]
    assert first.title.startswith("Text-Tuple-Table: Towards Information Integration")
    assert first.abstract.startswith("The task of condensing large chunks")
    assert first.line == 11
    assert all(e.date == "Mar 13" for e in digest.entries)


def test_compact_layout_unglues_first_title_from_subscribe(digest_paths: list[Path]) -> None:
    digest = read_digest(_path(digest_paths, COMPACT))
    assert digest.layout == "compact"
    assert digest.date is None
    assert len(digest.entries) == 308
    assert (
        digest.entries[0].title
        == "Accelerating Image Generation with Sub-path Linear Approximation Model"
    )
    assert digest.entries[0].line == 3
    assert not any(e.title.startswith("Subscribe") for e in digest.entries)


def test_every_sample_parses_into_title_abstract_pairs(digest_paths: list[Path]) -> None:
    counts = [len(read_digest(p).entries) for p in digest_paths]
    assert counts == [74, 66, 308, 143, 219]
    for path in digest_paths:
        for entry in read_digest(path).entries:
            assert len(entry.title) < 200 < len(entry.abstract)


def test_links_are_found_without_trailing_punctuation(digest_paths: list[Path]) -> None:
    links = [link for p in digest_paths for e in read_digest(p).entries for link in e.links]
    assert "https://github.com/AGPatriota/ALGA-R/" in links
    assert "https://github.com/xuangu-fang/Functional-Bayesian-Tucker-Decomposition" in links
    assert not any(link.endswith((".", ",", ")")) for link in links)


def test_crlf_bom_and_trailing_spaces_parse_the_same(digest_paths: list[Path]) -> None:
    raw = _path(digest_paths, SPACED).read_bytes()
    messy = b"\xef\xbb\xbf" + raw.replace(b"\n", b"   \r\n")
    plain, variant = parse_digest(raw, "a"), parse_digest(messy, "b")
    assert variant.entries == plain.entries
    assert variant.content_id == plain.content_id


def _error(data: bytes) -> DigestError:
    with pytest.raises(DigestError) as info:
        parse_digest(data, "bad.txt")
    return info.value


def test_empty_and_header_only_files_are_rejected() -> None:
    assert str(_error(b"")) == "bad.txt: empty file: no papers found"
    assert str(_error(b"  \n\n")) == "bad.txt: empty file: no papers found"
    assert "no papers found" in str(_error(b"new\n\nSubscribe\n\nMar 13\n"))


def test_binary_file_is_rejected() -> None:
    assert "binary file" in str(_error(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"))


def test_title_without_abstract_names_its_line(digest_paths: list[Path]) -> None:
    lines = _path(digest_paths, SPACED).read_text().split("\n")
    # Drop the abstract of the second paper (title on line 15, abstract on line 17).
    assert lines[14].startswith("ARM-Net")
    del lines[16:18]
    error = _error("\n".join(lines).encode())
    assert error.line == 15
    assert str(error).startswith("bad.txt:15: title 'ARM-Net")
    assert str(error).endswith("has no abstract")


def test_title_at_end_of_file_without_abstract() -> None:
    error = _error(b"A Title\nA long abstract sentence that ends here.\nDangling Title\n")
    assert (error.line, error.message) == (3, "title 'Dangling Title' has no abstract")


def test_abstract_without_title_is_rejected() -> None:
    para = ("We study things. " * 40).encode()
    error = _error(b"Title One\n" + para + b"\n" + para + b"\n")
    assert error.line == 3
    assert "expected a paper title" in error.message


def test_huge_single_line_is_rejected_by_length() -> None:
    error = _error(b"x" * 8_000_000)
    assert (error.line, "not a digest" in error.message) == (1, True)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match=r"nope\.txt: no such file$"):
        read_digest(tmp_path / "nope.txt")
    with pytest.raises(DigestError, match=r"is a directory$"):
        read_digest(tmp_path)


def test_windows_1252_text_decodes_with_a_warning() -> None:
    data = "Caf\xe9 Models\nWe study caf\xe9s and na\xefve models of them.\n".encode("cp1252")
    digest = parse_digest(data, "legacy.txt")
    assert digest.entries[0].title == "Café Models"
    assert digest.warnings == (
        "legacy.txt:1: not valid UTF-8; decoded the file as Windows-1252 "
        "(check accented characters)",
    )
