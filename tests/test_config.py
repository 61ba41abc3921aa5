"""config.toml: every setting read, every mistake one line with file:line, defaults kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from readinglist.config import DEFAULT_KEYS, DEFAULT_SNOOZE_DAYS, Config, load_config

GOOD = """\
snooze_days = 3

[presets]
1 = "ssm"
2 = "Diffusion Models"

[keys]
skip = "d"
later = "ctrl+l"

[views]
ssm = "tag:ssm is:unread"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config.toml").write_text(text)
    return tmp_path


def test_every_setting_is_read(tmp_path: Path) -> None:
    config, problem = load_config(write(tmp_path, GOOD))
    assert problem is None
    assert config.snooze_days == 3
    assert config.presets == {"1": "ssm", "2": "diffusion-models"}
    assert config.keys == DEFAULT_KEYS | {"skip": "d", "later": "ctrl+l"}
    assert config.views == {"ssm": "tag:ssm is:unread"}


def test_no_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == (Config(), None)
    assert Config().snooze_days == DEFAULT_SNOOZE_DAYS


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("snooze_days = 3\n[presets\n1 = 'x'\n", 2, "Expected ']'"),
        ("snooze_days = 'soon'\n", 1, "snooze_days: must be a whole number"),
        ("\nsnooze_days = 0\n", 2, "1–3650"),
        ("[presets]\n0 = 'x'\n", 2, "presets are the keys 1 to 9"),
        ("[presets]\n1 = 5\n", 2, "a preset is a tag name"),
        ("[keys]\nfly = 'f'\n", 2, "unknown action"),
        ("[keys]\nskip = '[@click=app.quit]'\n", 2, "a key is a name"),
        ("[views]\n'two words' = 'x'\n", 2, "a view name is one word"),
        ("[views]\nmine = 3\n", 2, "a view is a query"),
        ("colour = 'red'\n", 1, "unknown setting"),
        ("presets = 3\n", 1, "must be a table"),
    ],
)
def test_a_bad_file_is_one_line_with_its_line_and_defaults_apply(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    config, problem = load_config(write(tmp_path, text))
    assert config == Config()
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"{tmp_path / 'config.toml'}:{line}: ")
    assert says in problem and problem.endswith("using the defaults")


def test_a_file_that_is_not_text_or_too_big(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in (load_config(tmp_path)[1] or "")
    (tmp_path / "config.toml").write_bytes(b"#" * (1024 * 1024 + 1))
    assert "larger than" in (load_config(tmp_path)[1] or "")
