"""The command line's shared pieces: the typer app that every command joins,
the consoles, and progress bars that appear with their first task (so an
early error stays one line)."""
from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, sample and score spiking diffusion models under one protocol.")
out = Console()
err = Console(stderr=True)
PLURAL = {"process": "processes"}


class LazyProgress(Progress):
    """Progress bars that appear with the first task, so an early error stays one line."""

    def __enter__(self):
        return self

    def add_task(self, *args, **kwargs):
        if not self.live.is_started:
            self.start()
        return super().add_task(*args, **kwargs)

    def __exit__(self, *exc):
        if self.live.is_started:
            self.stop()


def progress_bars(transient: bool = False) -> Progress:
    return LazyProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("eta"), TimeRemainingColumn(), console=err, transient=transient)


def warn_failures(plugins) -> None:
    for name, reason in plugins.failures.items():
        print(f"warning: plugin '{name}' failed to load and is skipped: {reason}", file=sys.stderr)
