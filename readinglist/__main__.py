"""The ``readinglist`` command (and ``python -m readinglist``), started with the cyclic GC off.

What a start allocates lives as long as the process (modules, classes, the app's widgets),
yet it set off ~130 young collections that freed nothing: 18 ms of the app's first rows at
10k papers (interleaved starts, median 415 → 395 ms). The command turns the collector back
on, with what exists by then frozen out of its reach: :func:`readinglist.cli.entry` once
its imports are done, the app once its first rows are drawn (until the reader's first
pause, see ``ReadingListApp.spare_young``).
"""

import gc


def main() -> None:
    gc.disable()
    from readinglist.cli import entry

    entry()


if __name__ == "__main__":
    main()
