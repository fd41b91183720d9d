"""The leaderboard as a static HTML site (``sdmbench leaderboard --format html --out DIR``).

Self-contained: it works from ``file://`` with no network; its one script
(table sorting) and its stylesheet ship in this package, its charts are
matplotlib SVG (:mod:`sdmbench.board.site.plots`), its pages Jinja2 templates with
HTML autoescaping (:mod:`sdmbench.board.site.build`).
"""
from sdmbench.board.site.build import build_site

__all__ = ["build_site"]
