"""The leaderboard: entries and their seed statistics (``entries``, ``stats``), the board's
formats (``leaderboard``), re-deriving every published number (``verify``), and the static
site (``site``)."""
