"""Five real Hugging Face Daily Papers digests (both layouts), for the demo and the tests."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).parent


def sample_paths() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.txt"))
