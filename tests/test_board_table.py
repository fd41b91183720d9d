"""The published board's table is the one its records make."""


def test_the_published_board_table_is_the_one_its_records_make():
    """The cheap half of `sdmbench verify leaderboard` (CI runs the whole): the table from the records."""
    from pathlib import Path

    from sdmbench.plugin_api import loader as plugins
    from sdmbench.cli.leaderboard import board_markdown

    board = Path(__file__).resolve().parents[1] / "leaderboard"
    assert (board / "README.md").read_text() == board_markdown(board, plugins.get())
