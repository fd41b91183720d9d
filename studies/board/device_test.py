"""Are runs on two devices seeds of one entry? The same settings trained on a GPU and on a CPU, compared.

    python studies/board/device_test.py leaderboard leaderboard/archive/2026-12-04-gpu [--metric fid]
    python studies/board/device_test.py leaderboard leaderboard/archive/2026-12-07-machine-check --split platform

Runs from every folder given are grouped as the board groups them (dataset, scoring protocol, model,
neuron, options and every setting that shapes the method; the device is not one of them), then split by
the device they trained on (``config.device``: cuda against cpu), or with ``--split platform`` by the
machine (the record's ``hardware.platform``: two CPUs of one kind can still round differently, so one
seed trains to different weights on each). For each group that both sides ran, with at least two
seeds each: the means, Welch's t-test (unequal variances) of the metric, and, where both ran the same
seeds, the paired t-test over those seeds. A large p says the test found no difference at this number of
seeds; it is not a proof of equality, so the board still keeps one device per entry (issue 33, item 3).

Single-seed points (a study's budgets, one seed each on each device) have no within-group test; for
them, per model and extractor, the settings both devices ran with one seed each are paired and the
paired t-test is taken over those settings on log metric: the mean of log(cuda / cpu) is a common
multiplicative device effect, its exp and 95% t-interval say how much one device's runs differ.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from scipy import stats


SPLITS = {
    "device": lambda view: str((view.get("config") or {}).get("device", "?")).split(":")[0],
    "platform": lambda view: str((view.get("hardware") or {}).get("platform", "?")),
}


def runs_by_side(folders: List[Path], metric: str, split: str = "device") -> Dict[tuple, Dict[str, Dict[int, float]]]:
    """{group: {side: {seed: metric}}} over every scoring of every run in ``folders``; a side is what
    ``SPLITS[split]`` reads off the run (its device kind, or its machine's platform)."""
    from sdmbench.board.entries import method, views
    from sdmbench.running.records import load_records

    side_of = SPLITS[split]
    groups: Dict[tuple, Dict[str, Dict[int, float]]] = {}
    for folder in folders:
        records, _ = load_records(folder)
        for record in records:
            for view in views(record, []):
                config = view.get("config") or {}
                if metric not in view.get("metrics", {}) or view.get("diverged"):
                    continue
                extractor = view["protocol"].get("extractor") or "-"
                key = (view["dataset"], extractor, view["model"], view.get("neuron") or "-",
                       json.dumps([config.get("options") or {}, method(config)], sort_keys=True, default=str))
                groups.setdefault(key, {}).setdefault(side_of(view), {})[int(config.get("seed", 0))] = \
                    float(view["metrics"][metric])
    return groups


def sides(groups, split: str) -> Tuple[str, str]:
    """The two sides compared: cuda against cpu, or the two platforms the runs were made on (exit 2 when
    there are not exactly two: name the folders of two machines only)."""
    if split == "device":
        return "cuda", "cpu"
    found = sorted({side for by in groups.values() for side in by})
    if len(found) != 2:
        print(f"error: --split {split} compares two sides, and these runs have {len(found)}: "
              f"{', '.join(found) or 'none'}; give folders of runs from two of them only", file=sys.stderr)
        sys.exit(2)
    return found[0], found[1]


def shortened(groups, pair: Tuple[str, str]):
    """The groups and pair with each side named by what tells the two apart: the platforms' common prefix and
    suffix dropped at a ``-`` (``Linux-6.18.44-fc-v1252-x86_64-...`` against ``...-v1300-...`` reads
    ``v1252`` and ``v1300``)."""
    a, b = pair
    head = os.path.commonprefix([a, b])
    tail = os.path.commonprefix([a[::-1], b[::-1]])[::-1]
    cut = head.rfind("-") + 1
    end = tail.find("-") if "-" in tail else len(tail)
    names = {side: side[cut:len(side) - (len(tail) - end)] or side for side in pair}
    return {key: {names.get(side, side): runs for side, runs in by.items()} for key, by in groups.items()}, \
        (names[a], names[b])


def compare(a: Dict[int, float], b: Dict[int, float]) -> Tuple[float, float, float | None]:
    """Mean difference (a - b), Welch's p, and the paired p over the seeds both ran (None under 2)."""
    x, y = np.array(list(a.values())), np.array(list(b.values()))
    welch = stats.ttest_ind(x, y, equal_var=False).pvalue
    common = sorted(set(a) & set(b))
    paired = stats.ttest_rel([a[s] for s in common], [b[s] for s in common]).pvalue if len(common) >= 2 else None
    return float(x.mean() - y.mean()), float(welch), None if paired is None else float(paired)


def table(groups, metric: str, pair: Tuple[str, str] = ("cuda", "cpu")) -> str:
    """Per group both sides ran with at least two seeds each: their means, a - b, Welch's p and the paired p."""
    a, b = pair
    lines = [f"| dataset | extractor | entry | steps | {metric}, {a} (seeds) | {metric}, {b} (seeds) | "
             f"{a} - {b} | p (Welch) | p (paired by seed) |", "|---|---|---|---|---|---|---|---|---|"]
    for (dataset, extractor, model, neuron, blob), by in sorted(groups.items()):
        if not {a, b} <= set(by) or min(len(by[a]), len(by[b])) < 2:
            continue
        diff, welch, paired = compare(by[a], by[b])
        steps = json.loads(blob)[1].get("train_steps", "-")
        cells = [dataset, extractor, f"`{model}`" + (f" / `{neuron}`" if neuron != "-" else ""), str(steps)]
        cells += [f"{np.mean(list(by[d].values())):.2f} ({len(by[d])})" for d in (a, b)]
        cells += [f"{diff:+.2f}", f"{welch:.3f}", "-" if paired is None else f"{paired:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def across_settings(groups, metric: str, pair: Tuple[str, str] = ("cuda", "cpu")) -> str:
    """Per (dataset, extractor, entry): the settings both devices ran once with the same seed, paired; the
    geometric mean ratio a / b with its 95% t-interval and the paired t-test's p on log metric."""
    a, b = pair
    pairs: Dict[tuple, List[Tuple[str, float, float]]] = {}
    for (dataset, extractor, model, neuron, blob), by in sorted(groups.items()):
        if {a, b} <= set(by) and len(by[a]) == len(by[b]) == 1 and set(by[a]) == set(by[b]):
            steps = json.loads(blob)[1].get("train_steps", "-")
            pairs.setdefault((dataset, extractor, model, neuron), []).append(
                (str(steps), next(iter(by[a].values())), next(iter(by[b].values()))))
    lines = [f"| dataset | extractor | entry | steps (single seed on each) | {metric} {a} / {b} [95%] | "
             "p (paired, log) |", "|---|---|---|---|---|---|"]
    for (dataset, extractor, model, neuron), rows in sorted(pairs.items()):
        if len(rows) < 2:
            continue
        rows.sort(key=lambda r: float(r[0]) if r[0].isdigit() else 0.0)
        d = np.log([g / c for _, g, c in rows])  # log(a / b) per setting
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        p = stats.ttest_1samp(d, 0.0).pvalue  # the paired t-test on log metric
        entry = f"`{model}`" + (f" / `{neuron}`" if neuron != "-" else "")
        lines.append(f"| {dataset} | {extractor} | {entry} | {', '.join(s for s, _, _ in rows)} | "
                     f"{np.exp(d.mean()):.3f} [{np.exp(d.mean() - half):.3f}, {np.exp(d.mean() + half):.3f}] | {p:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--metric", default="fid")
    ap.add_argument("--split", choices=sorted(SPLITS), default="device",
                    help="compare devices (cuda against cpu) or machines (hardware.platform)")
    args = ap.parse_args()
    groups = runs_by_side(args.folders, args.metric, args.split)
    pair = sides(groups, args.split)
    if args.split == "platform":
        groups, pair = shortened(groups, pair)
    print(table(groups, args.metric, pair))
    print()
    print(across_settings(groups, args.metric, pair))


if __name__ == "__main__":
    main()
