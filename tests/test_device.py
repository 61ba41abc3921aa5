"""This device's identity when its config folder is copied to another machine (a dotfiles
repo, a cloned VM, a restored home folder): the copy gets its own id, or both machines
would write one journal and a sync engine would keep one machine's version of it.

Another machine is this one with :func:`readinglist.device.machine_fingerprint` patched;
in a subprocess, a ``device.json`` recording another fingerprint (what a copy holds).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from readinglist import device as devices
from readinglist.cli import main
from readinglist.config import ENV_CONFIG_DIR
from readinglist.device import DEVICE_FILE, this_device
from readinglist.errors import StorageError
from readinglist.library import Library
from readinglist.storage import journal_path
from readinglist.tui.app import create_app
from tests.libhelpers import FaultyOS
from tests.test_sync import sync
from tests.tuihelpers import SIZE, ready

#: A fingerprint no machine has: what a ``device.json`` made elsewhere records.
ELSEWHERE = "0123456789abcdef"
NOTE = "this config folder was copied from another machine"


class Machines:
    """Which machine this test runs on now."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.current = "a" * 16
        monkeypatch.setattr(devices, "machine_fingerprint", lambda: self.current)


def recorded(config: Path) -> dict[str, object]:
    data: dict[str, object] = orjson.loads((config / DEVICE_FILE).read_bytes())
    return data


def cli(
    capsys: pytest.CaptureFixture[str], config: Path, data_dir: Path, *args: str
) -> tuple[int, str, str]:
    os.environ[ENV_CONFIG_DIR] = str(config)  # conftest's monkeypatch restores it
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_copied_config_gets_its_own_id_and_both_machines_changes_survive_sync(
    tmp_path: Path,
    digest_paths: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machines = Machines(monkeypatch)
    laptop_config, desktop_config = tmp_path / "laptop-config", tmp_path / "desktop-config"
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    assert cli(capsys, laptop_config, laptop, "import", *map(str, digest_paths[:2]))[0] == 0
    laptop_id = this_device(laptop_config).id
    sync(laptop, desktop)
    shutil.copytree(laptop_config, desktop_config)  # the config folder, to another machine
    machines.current = "b" * 16

    code, out, err = cli(capsys, desktop_config, desktop, "list", "--ids")
    desktop_id = this_device(desktop_config).id
    assert code == 0 and desktop_id != laptop_id
    assert err.count(NOTE) == 1 and f"is now device {desktop_id}" in err
    assert f"device {laptop_id} and its journals are the other machine's" in err
    assert cli(capsys, desktop_config, desktop, "list", "--ids")[2] == ""  # said once
    first, second = out.split()[:2]

    machines.current = "a" * 16
    assert cli(capsys, laptop_config, laptop, "mark", first) == (0, "mark 1 paper read.\n", "")
    machines.current = "b" * 16
    laptops_journal = journal_path(desktop, laptop_id).read_bytes()
    assert cli(capsys, desktop_config, desktop, "tag", second, "--add", "desk")[0] == 0
    assert journal_path(desktop, laptop_id).read_bytes() == laptops_journal  # left alone
    sync(laptop, desktop)

    for folder, fingerprint, config, own in (
        (laptop, "a" * 16, laptop_config, laptop_id),  # the original machine kept its id
        (desktop, "b" * 16, desktop_config, desktop_id),
    ):
        machines.current = fingerprint
        library = Library(folder, this_device(config))
        assert library.device.id == own
        assert library.state(first).read and library.state(second).tags == ("desk",)
        assert {row[0] for row in library.devices()} == {laptop_id, desktop_id}


def test_a_device_json_of_an_earlier_release_keeps_its_id(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / DEVICE_FILE).write_bytes(b'{"id": "00112233445566ff", "name": "old laptop"}')
    device = this_device(config)
    assert (device.id, device.name, device.replaced) == ("00112233445566ff", "old laptop", None)
    assert recorded(config) == {
        "id": "00112233445566ff",
        "name": "old laptop",
        "machine": devices.machine_fingerprint(),  # adopted: this machine's now
    }
    assert this_device(config) == device
    # Copied on from here, it is another machine's id, as any config made here.
    shutil.copytree(config, tmp_path / "copy")
    data = recorded(tmp_path / "copy") | {"machine": ELSEWHERE}
    (tmp_path / "copy" / DEVICE_FILE).write_bytes(orjson.dumps(data))
    assert this_device(tmp_path / "copy").replaced == "00112233445566ff"


def test_each_machine_finds_its_own_id_in_a_config_folder_synced_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dotfiles repo pulled on each machine in turn, or a home folder shared by several:
    a new id for each new machine, never one per switch."""
    machines = Machines(monkeypatch)
    config = tmp_path / "config"
    laptop = this_device(config)
    machines.current = "b" * 16
    desktop = this_device(config)
    assert desktop.id != laptop.id and desktop.replaced == laptop.id
    for _ in range(3):
        for fingerprint, device in (("a" * 16, laptop), ("b" * 16, desktop)):
            machines.current = fingerprint
            found = this_device(config)
            assert (found.id, found.replaced) == (device.id, None)
    machines.current = "c" * 16
    third = this_device(config)
    assert third.id not in (laptop.id, desktop.id)
    assert recorded(config)["other_machines"] == {
        "a" * 16: {"id": laptop.id, "name": laptop.name},
        "b" * 16: {"id": desktop.id, "name": desktop.name},
    }


def test_no_id_is_given_when_the_copy_cannot_be_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing into the other machine's journal is what must not happen: a command stops
    (a read-only config folder, a full disk)."""
    machines = Machines(monkeypatch)
    config = tmp_path / "config"
    copied = this_device(config)
    machines.current = "b" * 16
    monkeypatch.setattr(devices, "os", FaultyOS(("replace",), errno.EROFS))
    with pytest.raises(StorageError, match="made on another machine"):
        this_device(config)
    assert recorded(config)["id"] == copied.id  # the copy as it was: the next start tries again
    monkeypatch.setattr(devices, "os", os)
    assert this_device(config).replaced == copied.id


RACER = """
import sys, time
from pathlib import Path
from readinglist.device import this_device
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
device = this_device(Path(sys.argv[1]))
print(device.id, device.replaced)
"""


def test_processes_starting_at_once_on_a_copied_config_agree_on_one_new_id(
    tmp_path: Path,
) -> None:
    config, go = tmp_path / "config", tmp_path / "go"
    config.mkdir()
    copied = {"id": "00112233445566ff", "name": "elsewhere", "machine": ELSEWHERE}
    (config / DEVICE_FILE).write_bytes(orjson.dumps(copied))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(config), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    time.sleep(1.0)  # every racer imported and waiting
    go.touch()
    answers = [racer.communicate(timeout=60)[0].split() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    (new,) = {device_id for device_id, _ in answers}
    assert new != copied["id"] and recorded(config)["id"] == new
    # The one that gave the id says so; the others found it given.
    assert sorted(replaced for _, replaced in answers) == ["00112233445566ff"] + ["None"] * 7
    assert recorded(config)["other_machines"] == {
        ELSEWHERE: {"id": copied["id"], "name": "elsewhere"}
    }


async def test_the_app_says_once_that_this_machine_got_its_own_id(
    library: Library, tmp_path: Path
) -> None:
    config = Path(os.environ[ENV_CONFIG_DIR])
    old = library.device.id
    data = recorded(config) | {"machine": ELSEWHERE}  # the folder came from another machine
    (config / DEVICE_FILE).write_bytes(orjson.dumps(data))
    app = create_app(library.data_dir, config_dir=tmp_path / "app-config", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.library is not None and app.library.device.id != old
        notes = [n.message for n in app._notifications if NOTE in n.message]
        assert len(notes) == 1 and f"device {old} and its journals" in notes[0]
    assert this_device().id == app.library.device.id
