"""Subprocess side of the reliability tests: change a library until told to stop (or killed).

Usage: ``python crashworker.py MODE DATA_DIR ...``

* ``crash DATA_DIR SEED``: random changes forever. Prints ``begin <op json>`` before each
  library call and ``done`` after it returns, so the test killing us knows which change
  was acknowledged and which one may be half-way.
* ``race DATA_DIR TAG ID...``: after ``go`` on stdin, mark even-numbered ids read and tag
  odd-numbered ones with TAG, one Library call each; prints start and end monotonic times.
* ``cli DATA_DIR TAG ID...``: the same through ``readinglist.cli.main``, one command (and
  so one freshly opened Library) per change, as a user's shell loop would.

Ops are explicit JSON (ids, values) so the test can replay them on its own model rather
than trusting the library it is checking.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from readinglist.cli import main as cli_main
from readinglist.library import Library

TAGS = ("ml", "to-read", "ssm", "théorie", "x.y+z")


def random_op(rng: random.Random, seed: int, number: int, ids: list[str]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.05:
        titles = [f"Crash Test Paper {seed} {number} {part}" for part in "ab"]
        return {"op": "import", "titles": titles}
    if roll < 0.10:
        return {"op": "reopen"}
    picked = rng.sample(ids, rng.randint(1, 3))
    if roll < 0.45:
        return {"op": "mark", "ids": picked, "read": rng.random() < 0.6}
    if roll < 0.60:
        return {"op": "toggle", "ids": picked}
    if roll < 0.80:
        add, remove = rng.sample(TAGS, 2)
        return {"op": "tag", "ids": picked, "add": [add], "remove": [remove]}
    text = f"note {seed}/{number} ✎ {rng.random()}\n\n- point {rng.randint(0, 9)}  \n"
    return {"op": "note", "ids": picked[:1], "text": text}


def digest_bytes(titles: list[str]) -> bytes:
    abstract = "We show that a library survives being killed at any moment of a save."
    return "".join(f"{title}\n{abstract}\n" for title in titles).encode()


def apply(library: Library, op: dict[str, Any], data_dir: Path) -> Library:
    kind = op["op"]
    if kind == "import":
        report = library.import_files(
            [(f"crash-{op['titles'][0]}.txt", digest_bytes(op["titles"]))]
        )
        assert report.ok, report
    elif kind == "reopen":
        return Library(data_dir)
    elif kind == "mark":
        library.mark(op["ids"], op["read"])
    elif kind == "toggle":
        library.toggle_read(op["ids"])
    elif kind == "tag":
        library.tag(op["ids"], add=op["add"], remove=op["remove"])
    else:
        library.set_note(op["ids"][0], op["text"])
    return library


def crash(data_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    print("ready", flush=True)
    library = Library(data_dir)
    for number in range(1_000_000):
        op = random_op(rng, seed, number, library.ordered())
        print("begin " + json.dumps(op), flush=True)
        library = apply(library, op, data_dir)
        print("done", flush=True)


def race(data_dir: Path, tag: str, ids: list[str], via_cli: bool) -> None:
    library = None if via_cli else Library(data_dir)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    for number, pid in enumerate(ids):
        if via_cli:
            change = ["mark", pid] if number % 2 == 0 else ["tag", pid, "--add", tag]
            code = cli_main(["--data-dir", str(data_dir), *change])
            assert code == 0, (change, code)
        elif number % 2 == 0:
            assert library is not None and library.mark([pid]) is not None
        else:
            assert library is not None and library.tag([pid], add=[tag]) is not None
    print(f"times {start} {time.monotonic()}", flush=True)


if __name__ == "__main__":
    mode, folder, *rest = sys.argv[1:]
    if mode == "crash":
        crash(Path(folder), int(rest[0]))
    else:
        race(Path(folder), rest[0], rest[1:], via_cli=mode == "cli")
