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


def welch_p(a: Estimate, b: Estimate) -> Optional[float]:
    """The two-sided p-value of Welch's t-test that two entries' means are equal (None with fewer than
    2 seeds on a side)."""
    if a.n < 2 or b.n < 2:
        return None
    from scipy.stats import ttest_ind_from_stats

    return float(ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n, equal_var=False).pvalue)


def holm(pvalues: Sequence[Optional[float]]) -> List[Optional[float]]:
    """Holm's step-down adjustment of a family of p-values (None stays None): with the m values sorted
    ascending, ``p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j))``. Rejecting where the adjusted
    value is below alpha keeps the chance of any false rejection in the family below alpha."""
    known = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: List[Optional[float]] = [None] * len(pvalues)
    running = 0.0
    for j, (p, i) in enumerate(known):
        running = max(running, min(1.0, (len(known) - j) * p))
        out[i] = running
    return out


def ratio(a: Estimate, b: Estimate, level: float = LEVEL) -> Optional[Estimate]:
    """``a.mean / b.mean`` with a ``level`` interval by the delta method on the log scale:
    ``log r +- t_df * se``, ``se^2 = s_a^2 / (n_a m_a^2) + s_b^2 / (n_b m_b^2)``, ``df`` by
    Welch-Satterthwaite. One seed on either side: the ratio alone, no interval. None unless both
    means are positive."""
    if a.mean <= 0 or b.mean <= 0:
        return None
    r = a.mean / b.mean
    if a.n < 2 or b.n < 2:
        return Estimate(r, r, r, 1, None)
    from scipy.stats import t

    va, vb = a.std ** 2 / (a.n * a.mean ** 2), b.std ** 2 / (b.n * b.mean ** 2)
    if va + vb == 0:
        return Estimate(r, r, r, min(a.n, b.n), 0.0)
    df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    half = float(t.ppf(0.5 + level / 2, df)) * math.sqrt(va + vb)
    return Estimate(r, r * math.exp(-half), r * math.exp(half), min(a.n, b.n), None)
