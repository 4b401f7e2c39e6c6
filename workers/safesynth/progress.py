"""Progress reporting that stages call without knowing who listens.

The local driver shows rich progress bars; a stage pod logs a line per step
(a bar in a pod log is noise). Stages only call `progress.task(...)`.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Protocol

Advance = Callable[[int], None]
log = logging.getLogger("safesynth")


class Progress(Protocol):
    def task(self, description: str, total: Optional[int] = None) -> "contextmanager[Advance]": ...  # type: ignore[valid-type]

    def note(self, message: str) -> None: ...


class LogProgress:
    """Logs the start and end of each task: for pods and tests."""

    @contextmanager
    def task(self, description: str, total: Optional[int] = None) -> Iterator[Advance]:
        done = 0

        def advance(n: int = 1) -> None:
            nonlocal done
            done += n

        log.info("%s ...", description)
        yield advance
        log.info("%s done (%d/%s)", description, done, total if total is not None else "?")

    def note(self, message: str) -> None:
        log.info("%s", message)


class RichProgress:
    """Progress bars on a terminal, through rich."""

    def __init__(self, console: "object | None" = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: Optional[int] = None) -> Iterator[Advance]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Bar(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=False,
        ) as bar:
            task_id = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task_id, n)
            if total is not None:
                bar.update(task_id, completed=total)

    def note(self, message: str) -> None:
        self.console.print(message)
