"""The command line: ``sdmbench`` is a typer app (:data:`sdmbench.cli.console.app`) whose commands
live one concern a module (``run``, ``score``, ``runs``, ``leaderboard``, ``board``: verify and
publish; ``entry``: ``main`` with the plugin, sweep and version commands). Plugins add their own
commands through the ``sdmbench_register_commands`` hook (:mod:`sdmbench.plugin_api.commands`)."""
from sdmbench.cli.console import app
from sdmbench.cli.entry import main

__all__ = ["app", "main"]
