"""What plugins use to add commands to the ``sdmbench`` command line.

A plugin implements ``sdmbench_register_commands(app)`` and adds typer
commands to ``app`` (``@app.command("name")``), or to a shared group of
sub-commands through :func:`group` (``sdmbench import NAME`` is the
``import`` group). A group exists only while some plugin puts a command in
it, so a disabled plugin's commands vanish from ``sdmbench --help``.

Commands report bad input by raising :class:`sdmbench.errors.UsageError`:
the command line prints it as one ``error:`` line and exits with status 2.
"""
from __future__ import annotations

import typer

#: the shared groups and their help texts
GROUPS = {"import": "Turn checkpoints of published code into sdmbench runs.",
          "extractor": "Feature extractors: train local weights for a dataset sdmbench ships none for."}


def group(app: typer.Typer, name: str) -> typer.Typer:
    """The sub-command group ``name`` of ``app``, made on first use."""
    for info in app.registered_groups:
        if info.name == name:
            return info.typer_instance
    sub = typer.Typer(help=GROUPS.get(name, ""), no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub
