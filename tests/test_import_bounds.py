"""Bounded, honest import: only regular files, a size cap, every encoding, no controls.

Every file is made by the test in ``tmp_path`` from the real sample digests.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readinglist.cli import main
from readinglist.digest import (
    CHUNK_BYTES,
    MAX_DIGEST_BYTES,
    MAX_NEUTRALISED_WARNINGS,
    parse_digest,
    read_digest,
    read_stdin,
)
from readinglist.errors import DigestError
from readinglist.library import Library
from readinglist.safetext import UNSAFE_LINE_RE, UNSAFE_RE
from tests.libhelpers import snapshot
from tests.test_hostile_input import BOMS, check

SPACED = "000_88429e94ceb0c524.txt"
#: The sample with the most accented titles (lines 63, 413 and 555 among them).
ACCENTED = "002_f78d371d068d1b95.txt"
#: A sample with a single non-ASCII character (σ, line 41).
ONE_ACCENT = "004_b22038616ce28914.txt"


def sample(digest_paths: list[Path], name: str) -> bytes:
    return next(p for p in digest_paths if p.name == name).read_bytes()


def refused(path: Path) -> str:
    with pytest.raises(DigestError) as info:
        read_digest(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


# --------------------------------------------------------------- only regular files


def test_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    """Opening a FIFO for reading waits for a writer: a regression here hangs this test."""
    fifo = tmp_path / "digest.txt"
    os.mkfifo(fifo)
    assert refused(fifo) == (
        "is a named pipe (FIFO), not a digest file; to import from it, use "
        "`readinglist import - < FIFO`"
    )
    link = tmp_path / "link.txt"
    link.symlink_to(fifo)
    assert refused(link).startswith("is a named pipe (FIFO)")


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_devices_are_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    assert refused(Path(device)) == (
        "is a character device, not a digest file; give a saved digest (.txt)"
    )


def test_directory_and_missing_file(tmp_path: Path) -> None:
    assert refused(tmp_path) == "is a directory"
    assert refused(tmp_path / "gone.txt") == "no such file"
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    assert "symbolic links" in refused(tmp_path / "loop.txt")


def test_symlink_to_a_regular_file_is_read(tmp_path: Path, digest_paths: list[Path]) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(next(p for p in digest_paths if p.name == SPACED))
    assert read_digest(link).entries == parse_digest(sample(digest_paths, SPACED), "x").entries


# --------------------------------------------------------------------- the size cap


def test_a_file_over_the_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    """A sparse file costs no disk; the message quotes the stat size, so nothing was read."""
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(MAX_DIGEST_BYTES + 1)
    assert refused(huge) == (
        "is 67,108,865 bytes, over the 64 MiB limit for a digest (real ones are under 1 MB); "
        "is this the right file?"
    )


def test_a_file_at_the_cap_is_read(tmp_path: Path) -> None:
    """The cap itself is allowed: this one is read, and refused for what it holds."""
    full = tmp_path / "full.txt"
    with full.open("wb") as f:
        f.truncate(MAX_DIGEST_BYTES)
    assert refused(full) == "binary file (NUL byte at offset 0); not a digest"


class Zeros(io.RawIOBase):
    """A stdin that never ends, counting what it hands out."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        buffer[:size] = bytes(size)
        self.served += size
        return size


def test_endless_stdin_is_refused_after_the_cap() -> None:
    stream = Zeros()
    with pytest.raises(DigestError) as info:
        read_stdin(stream)  # type: ignore[arg-type]
    assert str(info.value) == (
        "<stdin>: holds more than 64 MiB, the limit for a digest (real ones are under 1 MB); "
        "is this the right file?"
    )
    assert stream.served == MAX_DIGEST_BYTES + 1


def test_stdin_under_the_cap_is_read_whole(digest_paths: list[Path]) -> None:
    data = sample(digest_paths, SPACED)
    assert read_stdin(io.BufferedReader(io.BytesIO(data)), "pipe") == data  # type: ignore[arg-type]
    assert read_stdin(io.BytesIO(b"")) == b""


# ----------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\0\0"),
        ("utf-32-be", b"\0\0\xfe\xff"),
    ],
)
def test_utf16_and_utf32_with_bom_parse_like_the_utf8_original(
    tmp_path: Path, digest_paths: list[Path], codec: str, bom: bytes
) -> None:
    original = sample(digest_paths, ACCENTED)
    text = original.decode()
    copy = tmp_path / f"{codec}.txt"
    copy.write_bytes(bom + text.replace("\n", "\r\n").encode(codec))
    expected, digest = parse_digest(original, "x"), read_digest(copy)
    assert digest.entries == expected.entries
    assert (digest.content_id, digest.warnings) == (expected.content_id, ())
    assert any("Schrödinger" in e.title for e in digest.entries)

    library = Library(tmp_path / "lib")
    origin = next(p for p in digest_paths if p.name == ACCENTED)
    report = library.import_files([origin, copy])
    assert [f.status for f in report.files] == ["imported", "unchanged"]


def test_utf16_without_bom_is_still_binary() -> None:
    with pytest.raises(DigestError, match="binary file"):
        parse_digest("Title\nAn abstract.\n".encode("utf-16-le"), "x.txt")


def test_invalid_utf16_is_replaced_and_named(digest_paths: list[Path]) -> None:
    lines = sample(digest_paths, SPACED).decode().split("\n")
    data = b"\xff\xfe" + "\n".join(lines[:13]).encode("utf-16-le")
    data += b"\x00\xdc" + "\n".join(["", *lines[13:]]).encode("utf-16-le")  # a lone surrogate
    digest = parse_digest(data, "w.txt")
    assert digest.warnings == (
        "w.txt:13: 1 invalid UTF-16 sequence replaced by \ufffd (on this line)",
    )
    assert digest.entries[0].abstract.endswith("\ufffd")


ABSTRACT = "It works well on several benchmarks, " * 50 + "and we say so."


def test_damaged_utf16_is_decoded_across_windows_like_replace() -> None:
    """A damaged file is decoded 1 MB at a time: a CRLF and a surrogate pair may straddle."""
    text = ""
    for number, (boundary, unit) in enumerate(((CHUNK_BYTES, "\r"), (2 * CHUNK_BYTES, "\ud83d"))):
        while len(text) * 2 < boundary - 20_000:
            text += f"Paper {len(text)}\r\nWe study case {len(text)} at length. {ABSTRACT}\r\n"
        # An abstract padded so that ``unit`` (the second UTF-16 unit of its ending) is
        # the last one of this window.
        text += f"Padded Paper {number}\r\nWe pad this abstract "
        pad = (boundary - 2) // 2 - len(text.encode("utf-16-le")) // 2 - 1
        text += "x" * pad + (".\r\n" if unit == "\r" else " \U0001f600.\r\n")
        body = text.encode("utf-16-le")
        assert body[boundary - 2 : boundary] == unit.encode("utf-16-le", "surrogatepass")
    body += "Last\r\nWe end on a lone ".encode("utf-16-le") + b"\x00\xdc" + b".\x00"
    digest = parse_digest(codecs.BOM_UTF16_LE + body, "w.txt")
    expected = body.decode("utf-16-le", "replace")
    assert digest.entries == parse_digest(expected.encode(), "w.txt").entries
    last = len(re.split("\r\n|\r|\n", expected))
    assert digest.warnings == (
        f"w.txt:{last}: 1 invalid UTF-16 sequence replaced by \ufffd (on this line)",
    )
    assert digest.entries[-1].abstract == "We end on a lone \ufffd."


#: Lines of a digest, some with controls, accents, emoji and invisible characters.
LINES = st.sampled_from(
    [
        "new",
        "Mar 13",
        "",
        "A Plain Title",
        "\x1b]0;PWNED\x07A Title That Sets The Window Title",
        "A Title With \u202eReversed\u200b Words 😀",
        "We study café models and show that they work well.",
        "We clear the screen \x1b[2J and \x9b31m colour it, [/INST] too.",
        "We end with a rare character \ufffd and a tab\there.",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(BOMS),
    st.lists(LINES, max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.binary(max_size=4),
    st.integers(0, 1000),
)
def test_digests_after_any_bom(
    bom: tuple[bytes, str], lines: list[str], newline: str, junk: bytes, cut: int
) -> None:
    """Whatever follows a byte order mark: a digest with honest warnings, or one error line."""
    encoded = newline.join(lines).encode(bom[1])
    check(bom[0] + encoded[:cut] + junk + encoded[cut:])


def test_utf8_with_two_bad_bytes_stays_utf8(tmp_path: Path, digest_paths: list[Path]) -> None:
    original = sample(digest_paths, ACCENTED)
    damaged = original.replace(b"Pad\xc3\xa9 ", b"Pad\xc3\xa9\xff ", 1).replace(
        b"\nOptimally truncated", b"\nOptimally\xe9 truncated", 1
    )
    path = tmp_path / "damaged.txt"
    path.write_bytes(damaged)
    digest = read_digest(path)
    assert digest.warnings == (
        f"{path}:63: 2 invalid UTF-8 bytes replaced by \ufffd (on 2 lines, the first here)",
    )
    titles = {e.line: e.title for e in digest.entries}
    assert titles[63] == "PAON: A New Neuron Model using Padé\ufffd Approximants"
    assert titles[413].startswith("Optimally\ufffd truncated WKB")
    assert titles[413].endswith("1D Schrödinger equation")
    assert titles[555] == "μ-Parametrization for Mixture of Experts"
    clean = {e.line: e for e in parse_digest(original, "x").entries}
    assert [e for e in digest.entries if e.line not in (63, 413)] == [
        e for n, e in clean.items() if n not in (63, 413)
    ]
    # The same bytes always make the same digest: a re-import changes nothing.
    library = Library(tmp_path / "lib")
    assert library.import_files([path]).files[0].status == "imported"
    assert library.import_files([path]).files[0].status == "unchanged"


def test_a_single_accent_outweighs_two_stray_bytes(digest_paths: list[Path]) -> None:
    original = sample(digest_paths, ONE_ACCENT)
    lines = original.split(b"\n")
    lines[2] += b"\xff"
    lines[6] += b"\x80"
    digest = parse_digest(b"\n".join(lines), "one.txt")
    assert digest.warnings[0].startswith("one.txt:3: 2 invalid UTF-8 bytes")
    assert any(e.title.startswith("σ-GPTs") for e in digest.entries)


def test_windows_1252_still_decodes_as_windows_1252() -> None:
    """A coincidence does not outweigh the file's real accents.

    "É”" happens to be valid UTF-8, so line 1 is valid and the warning names line 2.
    """
    text = (
        "The CAFÉ” Benchmark\n"
        "We study naïve café résumés and Schrödinger’s équations at length.\n"
        "Another Title\n"
        "It is déjà vu all over again for the whole crew.\n"
    )
    digest = parse_digest(text.encode("cp1252"), "legacy.txt")
    assert [(e.title, e.abstract) for e in digest.entries] == [
        ("The CAFÉ” Benchmark", text.split("\n")[1]),
        ("Another Title", text.split("\n")[3]),
    ]
    assert digest.warnings == (
        "legacy.txt:2: not valid UTF-8; decoded the file as Windows-1252 "
        "(check accented characters)",
    )


# ------------------------------------------------------------- controls are text


def hostile_digest(digest_paths: list[Path]) -> tuple[str, list[str]]:
    """The spaced sample with escape sequences and invisible characters in it."""
    lines = sample(digest_paths, SPACED).decode().split("\n")
    lines[10] = "\x1b]0;PWNED\x07" + lines[10]  # line 11: a title sets the window title
    lines[12] = lines[12] + " \x1b[2J [/INST] \x9b31m"  # line 13: clears the screen, C1 CSI
    lines[14] = "\u202eARM-Net\u200b [@click=app.quit]"  # line 15: bidi override, zero width
    return "\n".join(lines), lines


def test_controls_are_neutralised_with_warnings_naming_lines(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    text, _ = hostile_digest(digest_paths)
    path = tmp_path / "evil.txt"
    path.write_text(text, encoding="utf-8")
    digest = read_digest(path)
    first, second = digest.entries[:2]
    assert first.title.startswith("␛]0;PWNED␇Text-Tuple-Table: Towards")
    assert first.abstract.endswith("␛[2J [/INST] \ufffd31m")
    assert second.title == "\ufffdARM-Net\ufffd [@click=app.quit]"
    assert digest.warnings == (
        f"{path}:11: 2 control characters neutralised (shown as ␛ ␇)",
        f"{path}:13: 2 control characters neutralised (shown as ␛ \ufffd)",
        f"{path}:15: 2 bidi or invisible characters neutralised (shown as \ufffd)",
    )
    assert read_digest(path).content_id == digest.content_id

    library = Library(tmp_path / "lib")
    assert library.import_files([path]).ok
    abstracts = library.catalog.abstracts(list(library.papers))
    stored = [t for p in library.papers.values() for t in (p.title, abstracts[p.id])]
    assert len(stored) == 2 * len(digest.entries)
    assert not any(UNSAFE_LINE_RE.search(t) for t in stored)
    # What a reopened library reads back from the digest files is as neutralised.
    assert Library(tmp_path / "lib").catalog.abstracts(list(abstracts)) == abstracts
    assert second.title in {p.title for p in library.papers.values()}


def test_neutralised_warnings_are_capped(digest_paths: list[Path]) -> None:
    _, lines = hostile_digest(digest_paths)
    marked = range(10, 40, 2)  # 15 title and abstract lines
    for n in marked:
        lines[n] = "\x07" + lines[n]
    digest = parse_digest("\n".join(lines).encode(), "bell.txt")
    assert len(digest.warnings) == MAX_NEUTRALISED_WARNINGS + 1
    assert digest.warnings[0] == "bell.txt:11: 3 control characters neutralised (shown as ␇ ␛)"
    assert digest.warnings[-1] == (
        f"bell.txt: and {len(marked) - MAX_NEUTRALISED_WARNINGS} more lines with characters "
        "neutralised"
    )
    assert all(e.title.startswith("␇") for e in digest.entries[:7])


# ------------------------------------------------------------------------ the CLI


def test_cli_refuses_a_fifo_in_one_line_and_changes_nothing(
    tmp_path: Path, digest_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "lib"
    assert Library(data_dir).import_files(digest_paths[:1]).ok
    before = snapshot(data_dir)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    code = main(["--data-dir", str(data_dir), "import", str(fifo)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [
        f"readinglist: {fifo}: is a named pipe (FIFO), not a digest file; to import from it, "
        "use `readinglist import - < FIFO`"
    ]
    assert snapshot(data_dir) == before


def test_cli_shows_neutralised_warnings(
    tmp_path: Path, digest_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.txt"
    path.write_text(hostile_digest(digest_paths)[0], encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "lib"), "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert err.splitlines() == [
        f"readinglist: warning: {path}:11: 2 control characters neutralised (shown as ␛ ␇)",
        f"readinglist: warning: {path}:13: 2 control characters neutralised (shown as ␛ \ufffd)",
        f"readinglist: warning: {path}:15: 2 bidi or invisible characters neutralised "
        "(shown as \ufffd)",
    ]
    assert not UNSAFE_RE.search(out + err)
