"""Progress reporting that stages call without knowing who listens.

The local driver shows rich progress bars; a stage pod logs a line per step
(a bar in a pod log is noise). Stages only call `progress.task(...)`.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Protocol

if TYPE_CHECKING:
    from rich.console import Console

Advance = Callable[[int], None]
log = logging.getLogger("safesynth")


class Progress(Protocol):
    """What a stage may call: a counted task (a context manager yielding `advance`) and a one-line note."""

    def task(self, description: str, total: Optional[int] = None) -> AbstractContextManager[Advance]: ...

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

    def __init__(self, console: Console | None = None) -> None:
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

            def advance(n: int = 1) -> None:
                bar.advance(task_id, n)

            yield advance
            if total is not None:
                bar.update(task_id, completed=total)

    def note(self, message: str) -> None:
        self.console.print(message)
