"""Regenerate the README screenshots from the demo library at 120×36.

Run: python screenshots/generate.py   (writes screenshots/*.svg; convert with rsvg-convert to look)
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from textual.pilot import Pilot

from readinglist.library import Library
from readinglist.samples import sample_paths
from readinglist.tui.app import ReadingListApp, create_app

OUT = Path(__file__).parent
SIZE = (120, 36)


async def ready(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, ReadingListApp)
    while not app.searchable:
        await pilot.pause(0.05)
    await pilot.pause(0.2)


async def shoot(pilot: Pilot, name: str) -> None:
    await pilot.pause(0.3)
    pilot.app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
    print(f"wrote {OUT / name}.svg")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "lib"
        library = Library(data_dir)
        library.import_files(sample_paths())
        # A morning's triage, so the shots show read, tagged and annotated papers.
        ids = library.ordered()
        library.mark(ids[1:3] + ids[5:6])
        library.tag([ids[0], ids[3]], add=["merging"])
        library.tag([ids[2]], add=["ssm", "to-cite"])
        library.set_note(
            ids[0],
            "**Key claim:** weight matching does *not* shrink the L2 distance;\n"
            "it aligns singular vectors.\n\n- Compare with PLeaS\n- Try on our ViT checkpoints",
        )
        app = create_app(data_dir, demo=True, config_dir=Path(tmp) / "config", export_dir=Path(tmp))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await shoot(pilot, "main")
            await pilot.press("slash", *"mamba tiem seires")
            await shoot(pilot, "filter")
            await pilot.press("enter", "escape", "slash", "escape", "n")
            await shoot(pilot, "note")
            await pilot.press("escape", "question_mark")
            await shoot(pilot, "help")


if __name__ == "__main__":
    asyncio.run(main())
