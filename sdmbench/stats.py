"""Seed statistics: a mean with its 95% confidence interval, and rank ranges.

For ``n`` seeds with mean ``m`` and sample standard deviation ``s`` the
interval is ``m +- t_{0.975, n-1} s / sqrt(n)`` (Student's t: seeds are few,
and the spread is estimated from them). One seed has no interval.

Rank ranges (lower is better): an entry's best rank is 1 + the number of
entries whose whole interval lies below its own, its worst rank the number
of entries whose interval starts at or below the end of its own; entries
whose intervals overlap therefore share ranks. A single seed's interval is
its point: it ranks as if it were exact, and the table says it is not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """The mean of ``n`` seeds and its confidence interval (``low = high = mean`` for one seed)."""

    mean: float
    low: float
    high: float
    n: int
    std: Optional[float]

    @property
    def half_width(self) -> Optional[float]:
        return None if self.n < 2 else (self.high - self.low) / 2


def estimate(values: Sequence[float], level: float = LEVEL) -> Optional[Estimate]:
    """Mean and ``level`` confidence interval of ``values`` (None values dropped; None if none left)."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    n, mean = len(xs), sum(xs) / len(xs)
    if n == 1:
        return Estimate(mean, mean, mean, 1, None)
    from scipy.stats import t

    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, std)


def rank_ranges(intervals: Sequence[Tuple[float, float]]) -> List[Tuple[int, int]]:
    """``(best, worst)`` rank of each ``(low, high)`` interval, lower values ranking first."""
    out = []
    for low, high in intervals:
        best = 1 + sum(1 for lo, hi in intervals if hi < low)
        worst = sum(1 for lo, hi in intervals if lo <= high)
        out.append((best, worst))
    return out


def rank_text(best: int, worst: int) -> str:
    return str(best) if best == worst else f"{best}-{worst}"


def significant(a: Estimate, b: Estimate) -> Optional[bool]:
    """Whether two entries' means differ by Welch's t-test at 1 - LEVEL (None with fewer than 2 seeds each)."""
    if a.n < 2 or b.n < 2:
        return None
    from scipy.stats import ttest_ind_from_stats

    result = ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n, equal_var=False)
    return bool(result.pvalue < 1 - LEVEL)
