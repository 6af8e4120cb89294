"""Terminal progress for ``forensics preserve`` (rows, rows/s, ETA per source)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from forensics.bundle.manifest import SourceEntry


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "rows")
        return Text(f"{speed:,.0f} {unit}/s" if speed and unit else "", style="cyan")


class _RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "rows")
        if not unit:
            return Text("")
        total = f"/{task.total:,.0f}" if task.total is not None else ""
        return Text(f"{task.completed:,.0f}{total} {unit}")


class RichProgress:
    """A :class:`forensics.preserve.ProgressListener` drawn with rich on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            _RowsColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._stage: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def source_started(self, name: str, total: int | None) -> None:
        """Add a bar for a source; with a reported count it shows an ETA."""
        self._tasks[name] = self._progress.add_task(name, total=total)

    def rows(self, name: str, count: int) -> None:
        """Advance a source's bar."""
        self._progress.advance(self._tasks[name], count)

    def source_finished(self, name: str, entry: SourceEntry) -> None:
        """Mark a source done (or failed)."""
        task = self._tasks.get(name)
        if task is None:
            task = self._tasks[name] = self._progress.add_task(name, total=0)
        label = name if entry.status == "ok" else f"{name} [red]failed"
        done = self._progress.tasks[task].completed
        self._progress.update(task, description=label, total=done, completed=done)

    def stage(self, message: str, total: int | None = None) -> None:
        """Show a bar for a later stage (uploading, sealing)."""
        if self._stage is not None:
            current = self._progress.tasks[self._stage]
            self._progress.update(self._stage, total=current.completed)
        self._stage = self._progress.add_task(
            message, total=total, unit="files" if total is not None else ""
        )

    def advance(self, count: int = 1) -> None:
        """Progress within the current stage."""
        if self._stage is not None:
            self._progress.advance(self._stage, count)
