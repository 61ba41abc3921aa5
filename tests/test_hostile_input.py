"""Hostile digests: whatever the bytes, parse_digest returns a digest or a DigestError.

Time bounds here are hang guards only (generous, never speed targets). For the record,
on the 2-core dev box: 8 MB single line 0.06 s, 200k short lines 0.6 s, 8 MB whitespace
run 0.07 s, 100 abstracts of 2,000 URLs 0.2 s, 100 lines of 64k ")" after a URL 0.6 s
(145 s before find_links stopped re-counting and re-slicing the URL per parenthesis).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from readinglist.digest import (
    MAX_LINE_CHARS,
    MAX_NEUTRALISED_WARNINGS,
    ParsedDigest,
    find_links,
    parse_digest,
)
from readinglist.errors import DigestError
from readinglist.safetext import UNSAFE_LINE_RE, printable_line

#: A hang guard, far above the real timings in the module docstring.
HANG_GUARD_S = 5.0

LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def parse(data: bytes) -> ParsedDigest | DigestError:
    """The parse result or its DigestError; any other exception fails the test."""
    try:
        return parse_digest(data, "hostile.txt")
    except DigestError as error:
        assert str(error).startswith("hostile.txt"), error
        assert "\n" not in str(error)
        if error.line is not None:
            assert 1 <= error.line <= len(LINE_BREAK.split(data)), error
        return error


def check(data: bytes) -> ParsedDigest | DigestError:
    result = parse(data)
    if isinstance(result, ParsedDigest):
        lines = LINE_BREAK.split(data)
        for entry in result.entries:
            assert entry.title and entry.abstract
            assert 1 <= entry.line <= len(lines)
            # Nothing that could drive a terminal is ever stored.
            assert not UNSAFE_LINE_RE.search(entry.title + entry.abstract), entry
        _check_warnings(data, result.warnings)
    return result


#: Byte order marks as the parser honours them, UTF-32 first.
BOMS = [
    (b"\xff\xfe\0\0", "utf-32-le"),
    (b"\0\0\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
NEUTRALISED = re.compile(
    r"hostile\.txt:(\d+): (?:(\d+) control characters?)?(?: and )?"
    r"(?:(\d+) bidi or invisible characters?)? neutralised \(shown as (.+)\)"
)
MORE_LINES = re.compile(r"hostile\.txt: and (\d+) more lines? with characters neutralised")
DAMAGED_UTF8 = re.compile(
    r"hostile\.txt:(\d+): (\d+) invalid UTF-8 bytes? replaced by \ufffd "
    r"\(on (?:this line|(\d+) lines, the first here)\)"
)


def _check_warnings(data: bytes, warnings: tuple[str, ...]) -> None:
    """Every warning names the right line and counts what it says it counts."""
    lines = LINE_BREAK.split(data)
    codec = next((c for bom, c in BOMS if data.startswith(bom)), None)
    body = data[len(next(b for b, c in BOMS if c == codec)) :] if codec else data
    cp1252 = False
    shown: list[int] = []
    more = 0
    for warning in warnings:
        where = warning.split(":")[1]
        if "Windows-1252" in warning or DAMAGED_UTF8.fullmatch(warning):
            # Names the line holding the first byte that is not UTF-8.
            assert codec in (None, "utf-8"), warning
            number = int(where)
            assert not _decodes(lines[number - 1]) and all(_decodes(x) for x in lines[: number - 1])
            cp1252 = "Windows-1252" in warning
            if damaged := DAMAGED_UTF8.fullmatch(warning):
                bad = [len(x) - len(x.decode("utf-8", "ignore").encode()) for x in lines]
                assert int(damaged[2]) == sum(bad)
                assert int(damaged[3] or 1) == sum(1 for n in bad if n)
        elif re.match(
            r"hostile\.txt:\d+: \d+ invalid UTF-(16|32) sequences? replaced by \ufffd ", warning
        ):
            assert codec is not None and codec.startswith(("utf-16", "utf-32")), warning
            with pytest.raises(UnicodeDecodeError) as error:
                body.decode(codec)
            valid = body[: error.value.start].decode(codec)
            assert int(where) == len(re.split("\r\n|\r|\n", valid)), warning
        elif match := NEUTRALISED.fullmatch(warning):
            shown.append(int(match[1]))
        elif match := MORE_LINES.fullmatch(warning):
            more = int(match[1])
        else:
            raise AssertionError(f"unexpected warning {warning!r}")
    # Neutralised characters: recount them from the text as the parser decoded it.
    text = body.decode(codec or ("cp1252" if cp1252 else "utf-8"), "replace")
    unsafe: dict[int, list[str]] = {}
    for number, line in enumerate(re.split("\r\n|\r|\n", text), start=1):
        found = UNSAFE_LINE_RE.findall(" ".join(line.split()))
        if found:
            unsafe[number] = found
    assert shown == list(unsafe)[:MAX_NEUTRALISED_WARNINGS]
    assert more == max(0, len(unsafe) - MAX_NEUTRALISED_WARNINGS)
    for warning in warnings:
        if match := NEUTRALISED.fullmatch(warning):
            found = unsafe[int(match[1])]
            controls = sum(1 for c in found if ord(c) < 0xA0)
            assert (int(match[2] or 0), int(match[3] or 0)) == (controls, len(found) - controls)
            assert match[4].split(" ") == list(dict.fromkeys(printable_line(c) for c in found))


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def timed(make: Callable[[], bytes]) -> ParsedDigest | DigestError:
    data = make()
    start = time.perf_counter()
    result = check(data)
    assert time.perf_counter() - start < HANG_GUARD_S
    return result


ABSTRACT = "We propose a method and show that it works well on several benchmarks."
#: Pieces digests are made of, plus the kinds of junk real files pick up.
PIECES = st.sampled_from(
    [
        "new",
        "Subscribe",
        "SubscribeA Glued Title",
        "Mar 13",
        "Sept. 3, 2024",
        "byAK and the research community",
        "Get trending papers in your email inbox!",
        "A Short Title",
        "A Title Ending With A Dot.",
        ABSTRACT,
        ABSTRACT + " Code: https://github.com/x/y).",
        "",
        "   ",
        "\t\x0b\x0c",
        "\u2028",
        "\x85",
        "Ünïcödé Tïtlé 🚀",
        "x" * 600,
    ]
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def digest_like(draw: st.DrawFn) -> bytes:
    """Text shaped like a digest (header, title/abstract lines) with random damage."""
    newline = draw(NEWLINES)
    lines = draw(st.lists(st.one_of(PIECES, st.text(max_size=80)), max_size=40))
    data = newline.join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut:]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
@example(b"\x00")
@example(b"\xef\xbb\xbf")
@example(b"Title\r\xff\rabstract that is long enough and ends.")
@example(b"\xff\xfeT\x00\n\x00\x00\xdcx\x00\r\x00")  # UTF-16 with a lone surrogate
@example(b"\x00\x00\xfe\xff\x00\x11\x00\x00\x00\x00\x00\n")  # UTF-32 beyond U+10FFFF
@example(b"\xfe\xff\x00T\x00\x1b\x00\n\x00a\x00.\x00")  # UTF-16 with an escape
@example(b"T\xc3\xa9\xff\nabstract \x1b[2J ends \xe2\x80\xae here.")  # bad byte, ESC, bidi
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500))
def test_random_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=500, deadline=None)
@given(digest_like())
def test_damaged_digest_shapes(data: bytes) -> None:
    check(data)


WORDS = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(WORDS, min_size=1, max_size=8), st.lists(WORDS, max_size=40)),
        min_size=1,
        max_size=20,
    ),
    NEWLINES,
    st.sampled_from(["", "\n", "\n\n"]),
)
def test_well_formed_pairs_all_come_back_in_order(
    pairs: list[tuple[list[str], list[str]]], newline: str, gap: str
) -> None:
    """Title/abstract pairs, whatever their words and line breaks, parse to exactly themselves."""
    expected = [("Paper " + " ".join(t), " ".join(["We", *a]) + ".") for t, a in pairs]
    text = "".join(f"{title}{gap}\n{abstract}{gap}\n" for title, abstract in expected)
    result = check(text.replace("\n", newline).encode())
    assert isinstance(result, ParsedDigest), result
    assert [(e.title, e.abstract) for e in result.entries] == expected


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: b"x" * 8_000_000, "line is 8,000,000 characters long; not a digest"),
        (lambda: b"Title\n" + b" " * 8_000_000 + b"x\n", "line is 8,000,001 characters long"),
        (lambda: b"T\n" + b"a" * (MAX_LINE_CHARS + 1), "line is 65,537 characters long"),
        (lambda: b" \t" * 4_000_000, "empty file: no papers found"),
        (lambda: b"\r\n" * 4_000_000, "empty file: no papers found"),
        (lambda: b"\x01" * 8_000_000, "binary file (mostly control bytes)"),
    ],
    ids=[
        "8 MB line",
        "8 MB whitespace run",
        "line over the limit",
        "8 MB blank",
        "4M line breaks",
        "8 MB control bytes",
    ],
)
def test_huge_inputs_are_rejected(make: Callable[[], bytes], expected: str) -> None:
    result = timed(make)
    assert isinstance(result, DigestError) and expected in str(result), result


@pytest.mark.parametrize(("paren", "kept"), [(")", 0), ("(", 65_000)], ids=["closing", "opening"])
def test_long_parenthesis_runs_after_urls(paren: str, kept: int) -> None:
    """100 lines of 64k parentheses after a URL: 6.5 MB that once took minutes."""
    result = timed(lambda: (b"Title\nSee http://x" + paren.encode() * 65_000 + b"\n") * 100)
    assert isinstance(result, ParsedDigest) and len(result.entries) == 100
    assert result.entries[-1].links == ("http://x" + paren * kept,)


def test_200k_short_lines_parse() -> None:
    result = timed(
        lambda: b"".join(
            b"Title %d\nAbstract number %d is here.\n" % (i, i) for i in range(100_000)
        )
    )
    assert isinstance(result, ParsedDigest) and len(result.entries) == 100_000


def test_many_urls_are_found_once_each() -> None:
    urls = " ".join(f"https://example.org/p{i}," for i in range(2_000))
    result = timed(lambda: "".join(f"Title {n}\n{urls}\n" for n in range(100)).encode())
    assert isinstance(result, ParsedDigest)
    assert result.entries[0].links == tuple(f"https://example.org/p{i}" for i in range(2_000))


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("see (https://a.org/x_(y)).", ("https://a.org/x_(y)",)),
        ("https://a.org/x))).", ("https://a.org/x",)),
        ("(https://a.org/q?x=1)", ("https://a.org/q?x=1",)),
        ("https://a.org/x.)'", ("https://a.org/x",)),
        ("https://a.org/" + ")" * 50_000, ("https://a.org/",)),
    ],
)
def test_link_parentheses(text: str, links: tuple[str, ...]) -> None:
    assert find_links(text) == links


@pytest.mark.soak
@settings(max_examples=20_000, deadline=None)
@given(st.one_of(digest_like(), st.binary(max_size=4000), st.text(max_size=2000).map(str.encode)))
def test_hostile_soak(data: bytes) -> None:
    check(data)
