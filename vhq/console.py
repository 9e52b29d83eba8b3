"""Where vhq talks to the user.

Results go to stdout (``echo``); progress, warnings and errors go to stderr. Progress is a rich bar
on a terminal and a plain status line every ``interval`` seconds otherwise (logs of cluster jobs
stay readable). Under ``torchrun`` only rank 0 prints progress.
"""

from __future__ import annotations

import os
import time
from typing import Iterable, Iterator, TypeVar

from rich.console import Console

T = TypeVar("T")

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def echo(text: str = "") -> None:
    """A result line on stdout (rank 0 only)."""
    if _rank() == 0:
        print(text, flush=True)


def info(text: str) -> None:
    if _rank() == 0:
        stderr.print(text, markup=False)


def warn(text: str) -> None:
    stderr.print(f"warning: {text}", markup=False, style="yellow")


def progress(
    items: Iterable[T],
    total: int | None = None,
    desc: str = "",
    interval: float = 10.0,
    enabled: bool | None = None,
) -> Iterator[T]:
    """Iterate ``items`` while reporting progress on stderr."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if enabled is None:
        enabled = _rank() == 0 and os.environ.get("VHQ_QUIET", "") != "1"
    if not enabled:
        yield from items
        return
    if stderr.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=stderr, transient=False) as bar:
            task = bar.add_task(desc, total=total)
            for item in items:
                yield item
                bar.advance(task)
        return
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= interval:
            last = now
            of = f"/{total}" if total else ""
            rate = done / max(now - start, 1e-9)
            stderr.print(f"{desc}: {done}{of} done, {rate:.2f}/s, {now - start:.0f}s elapsed", markup=False)
    if done:
        of = f"/{total}" if total else ""
        stderr.print(f"{desc}: {done}{of} done in {time.monotonic() - start:.1f}s", markup=False)
