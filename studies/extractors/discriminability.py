"""Which ruler tells the board's entries apart: one-way ANOVA of FID per shipped extractor (issue 30, item 2).

    python studies/extractors/discriminability.py [BOARD]      # default: leaderboard

For each extractor, F = between-entry mean square over within-entry (seed) mean square of the ranked
entries' FIDs, and the same on log FID (the board compares ratios), over three families:

- every ranked entry of the board;
- the spiking U-Net and its ANN twin (``sdm-ann``, ``sdm``/``tsm``, ``sdm``/``if``): the SDM paper's
  SNN-against-ANN claim;
- ``sdm``/``tsm`` against ``sdm``/``if``: the TSM claim, the closest pair the board has to separate.

A larger F at the same runs is a ruler that separates the same entries better; the p-value is scipy's
F distribution at (k - 1, n - k) degrees of freedom. The extractor that wins every family is the
board's default (``docs/extractors.md``).

With ``--sampling``, what a cheaper ruler could buy back with more samples at the same cost: for each
U-Net entry, the spread of FID across its seeds against the sampling noise within one run (the standard
deviation of FID over bootstrap resamples of the run's 1000 samples, averaged over its seeds). More
samples shrink only the second.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from validate import anova_f, board_entries, board_groups  # noqa: E402

EXTRACTORS = ("classifier", "classifier-resnet")
FAMILIES = {"every ranked entry": None,
            "U-Net: sdm-ann, sdm/tsm, sdm/if": ("sdm-ann", "sdm/tsm", "sdm/if"),
            "sdm/tsm against sdm/if": ("sdm/tsm", "sdm/if")}


def family(groups: Dict[str, List[float]], names) -> Dict[str, List[float]]:
    """The entries of ``groups`` named in ``names`` (all when None), each with at least two seeds."""
    return {k: v for k, v in groups.items() if len(v) >= 2 and (names is None or k in names)}


def f_test(groups: Dict[str, List[float]]) -> Dict[str, float]:
    """F, its p-value, and F on log FID for one family."""
    values = list(groups.values())
    k, n = len(values), sum(map(len, values))
    f = anova_f(values)
    return dict(entries=k, runs=n, F=f, p=float(stats.f.sf(f, k - 1, n - k)),
                F_log=anova_f([np.log(v) for v in values]))


def table(board: Path) -> str:
    lines = ["| family | extractor | entries, runs | F | p | F on log FID |", "|---|---|---|---|---|---|"]
    groups = {name: board_groups(board, name) for name in EXTRACTORS}
    for label, names in FAMILIES.items():
        for name in EXTRACTORS:
            chosen = family(groups[name], names)
            if len(chosen) < 2:
                continue
            r = f_test(chosen)
            lines.append(f"| {label} | `{name}` | {r['entries']}, {r['runs']} | {r['F']:.1f} | {r['p']:.2g} | "
                         f"{r['F_log']:.1f} |")
    return "\n".join(lines)


def bootstrap_sd(features, reference, boots: int = 20, seed: int = 0) -> float:
    """Standard deviation of FID over ``boots`` resamples (with replacement) of the sample features."""
    from sdmbench.scoring.fid import fid_from_features

    rng = np.random.default_rng(seed)
    n = len(features)
    return float(np.std([fid_from_features(features[rng.integers(0, n, n)], reference) for _ in range(boots)],
                        ddof=1))


def sampling(board: Path, names=FAMILIES["U-Net: sdm-ann, sdm/tsm, sdm/if"]) -> str:
    """Seed spread against within-run sampling noise of FID, per extractor and U-Net entry."""
    from sdmbench.plugin_api import loader
    from sdmbench.running.rescore import read_samples

    plugins = loader.get()
    lines = ["| extractor | entry | FID sd across seeds | FID sd within a run (bootstrap) | sampling share of "
             "the variance |", "|---|---|---|---|---|"]
    for name in EXTRACTORS:
        runs = board_entries(board, name)
        data = plugins.dataset.get(next(iter(runs.values()))[0]["dataset"])(None, "train", 32)
        extractor = plugins.extractor.get(name)(data)
        reference = extractor(data.first(10000))
        for entry in names:
            within = [bootstrap_sd(extractor(read_samples(board / r["run_id"] / "samples.npz")), reference)
                      for r in runs[entry]]
            across = float(np.std([r["metrics"]["fid"] for r in runs[entry]], ddof=1))
            lines.append(f"| `{name}` | {entry} | {across:.2f} | {np.mean(within):.2f} | "
                         f"{np.mean(np.square(within)) / across ** 2:.1%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("board", nargs="?", type=Path, default=Path("leaderboard"))
    ap.add_argument("--sampling", action="store_true", help="also the seed spread against sampling noise")
    args = ap.parse_args()
    print(table(args.board))
    if args.sampling:
        print("\n" + sampling(args.board))


if __name__ == "__main__":
    main()
