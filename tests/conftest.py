"""Shared fixtures: the real digests and a real library in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from readinglist.library import Library
from readinglist.samples import sample_paths
from tests.hfserver import DailyPapersServer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "digests"


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Crash logs of the app under test, and this device's identity, go to the test's folder,
    not the real home."""
    monkeypatch.setenv("READINGLIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("READINGLIST_CONFIG_DIR", str(tmp_path / "device-config"))


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the internet: one that forgets the local server (``hf``) fails fast."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture
def hf(monkeypatch: pytest.MonkeyPatch) -> Iterator[DailyPapersServer]:
    with DailyPapersServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


@pytest.fixture(scope="session")
def digest_paths() -> list[Path]:
    """The five real digests: ../shared/digests when present, else the bundled copy."""
    shared = sorted(SHARED.glob("*.txt"))
    return shared or sample_paths()


@pytest.fixture
def library(tmp_path: Path, digest_paths: list[Path]) -> Library:
    lib = Library(tmp_path / "lib")
    assert lib.import_files(digest_paths).ok
    return lib


def by_title(library: Library, title: str) -> str:
    """The id of the paper with exactly this title."""
    (pid,) = [pid for pid, p in library.papers.items() if p.title == title]
    return pid
