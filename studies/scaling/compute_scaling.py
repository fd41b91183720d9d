"""Quality against training compute for the ANN twin and a spiking model, and where their FID ratio
would reach a target (issues 20 and 33).

    python studies/scaling/compute_scaling.py [RECORDS_DIR] [--spiking sdm/tsm] [--ann sdm-ann]
                                         [--target 2] [--extractor classifier-resnet] [--device cpu] [--markdown]
                                         [--out docs/studies/compute_scaling]

Reads the records of one dataset's quick-preset runs that differ from the preset at most in their
training steps (the preset's seeds and the runs of ``studies/board/gpu_grid.py --grid study``), trained
on one ``--device`` (default cpu: runs on another device are not seeds of the same points unless a test
shows no difference, ``studies/board/device_test.py``), scored under one pinned ``--extractor`` (each
protocol the record was scored under, its own or a rescoring, N = 1000). Compute is counted two ways:
samples seen (steps x batch) and measured CPU seconds of training (the record's ``cpu_times``; for records
older than those, the training stage's wall time x the torch threads the run used).

For each model a power law is fitted by least squares on log-log axes, every run one point,

    log FID = a + b log C,

so the ratio of the spiking model's FID to the ANN's is ``exp((a_s - a_a) + (b_s - b_a) log C)`` and
it reaches the target at ``log C* = (log target - (a_s - a_a)) / (b_s - b_a)`` (none when the ratio
does not shrink, ``b_s >= b_a``). Without a fit: at every compute level both models ran at, the
ratio of their mean FIDs (``matched``). Its uncertainty: a bootstrap over runs (each model's runs resampled
with replacement, 2000 times), giving a 95% interval of C* as a multiple of the spiking preset's
compute and the share of resamples in which the ratio never reaches the target. The ratio's own slope
on log-log axes, ``b_s - b_a`` (negative: the gap shrinks with compute), with the 95% interval of the
same resampling and the share of resamples in which it is not negative. And the compute at which the
ANN's fit reaches the spiking model's mean FID at its preset, ``exp((log FID_s - a_a) / b_a)``, as a
multiple of that preset: the share of the spiking model's training compute the ANN needs for the same
quality. Writes OUT.json and
OUT.png (FID and KID against samples seen with fits and extrapolation, and FID against CPU seconds;
log axes, one colour per model).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np

from sdmbench.errors import UsageError


def label(record) -> str:
    return record["model"] + (f"/{record['neuron']}" if record.get("neuron") and record.get("T", 1) > 1 else "")


def points(folder: Path, names, dataset: str, extractor: str, device: str = "cpu"):
    """Per model name: [(samples seen, CPU seconds, FID, KID, train steps, seed)] of its quick-preset runs
    trained on ``device``, scored under ``extractor`` at N = 1000."""
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.cli.leaderboard import preset_lookup
    from sdmbench.board.entries import normal, off_preset, views
    from sdmbench.running.records import load_records
    from sdmbench.scoring import columns as shown

    records, _ = load_records(folder)
    preset_of, out = preset_lookup(plugins.get()), {name: [] for name in names}
    for r in records:
        c, name = r.get("config") or {}, label(r)
        if name not in out or r["dataset"] != dataset or c.get("preset") != "quick" or r.get("diverged"):
            continue
        if (r.get("hardware") or {}).get("device", "cpu") != device:
            continue
        preset = preset_of(r)
        if preset is None or set(off_preset(normal(c), normal(preset))) - {"train_steps"}:
            continue  # off the preset in more than its training steps (another study's trial)
        scored = [v["metrics"] for v in views(r, shown.installed())
                  if (v.get("protocol") or {}).get("extractor") == extractor
                  and (v.get("protocol") or {}).get("num_samples") == 1000]
        if scored:
            m = scored[-1]  # the latest scoring under this extractor
            out[name].append((c["train_steps"] * c["batch_size"], cpu_seconds(r),
                              m.get("fid"), m.get("kid"), c["train_steps"], c.get("seed", 0)))
    return out


def cpu_seconds(record) -> float:
    """The training stage's CPU seconds (``cpu_times``, all threads of the process); records made before
    those were kept give wall time x torch threads, which grows with whatever else ran on the machine."""
    seconds = (record.get("cpu_times") or {}).get("train_train_s")
    if seconds:
        return seconds
    seconds = (record.get("wall_times") or {}).get("train_train_s")
    threads = (record.get("hardware") or {}).get("torch_threads") or 1
    return seconds * threads if seconds else math.nan


def fit(xs, ys):
    """Least-squares ``log y = a + b log x``: (a, b)."""
    b, a = np.polyfit(np.log(xs), np.log(ys), 1)
    return a, b


def crossing(ann, snn, target: float):
    """log C at which the fitted ratio snn/ann reaches ``target``; None when it never shrinks to it."""
    (a1, b1), (a2, b2) = fit(*ann), fit(*snn)
    if b2 >= b1:
        return None
    return (math.log(target) - (a2 - a1)) / (b2 - b1)


def matched(found, ann: str, spiking: str):
    """Per compute level both models ran at: the ratio of their mean FIDs (each over its seeds there)."""
    def means(rows):
        by = {}
        for r in rows:
            by.setdefault(r[0], []).append(r[2])
        return {c: (statistics.mean(v), len(v)) for c, v in by.items()}

    a, s = means(found[ann]), means(found[spiking])
    return [{"samples_seen": c, "fid_ratio": s[c][0] / a[c][0], "spiking_seeds": s[c][1], "ann_seeds": a[c][1]}
            for c in sorted(set(a) & set(s))]


def resamples(ann, snn, rounds: int = 2000, seed: int = 0):
    """Each model's runs resampled with replacement, ``rounds`` times: the usable resamples (both with two
    compute levels or more, so both have a slope) as ``(ann, snn)`` pairs of (compute, FID) arrays."""
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        i = rng.integers(0, len(ann[0]), len(ann[0]))
        j = rng.integers(0, len(snn[0]), len(snn[0]))
        if len(set(ann[0][i])) >= 2 and len(set(snn[0][j])) >= 2:
            yield (ann[0][i], ann[1][i]), (snn[0][j], snn[1][j])


def bootstrap(ann, snn, target: float, rounds: int = 2000, seed: int = 0):
    found, never = [], 0
    for a, s in resamples(ann, snn, rounds, seed):
        c = crossing(a, s, target)
        if c is None:
            never += 1
        else:
            found.append(c)
    return found, never, len(found) + never


def slope_bootstrap(ann, snn, rounds: int = 2000, seed: int = 0):
    """The ratio's log-log slope ``b_s - b_a`` in each usable resample (:func:`resamples`): its sign says
    whether the SNN/ANN ratio shrinks (< 0) or grows with compute."""
    return [fit(*s)[1] - fit(*a)[1] for a, s in resamples(ann, snn, rounds, seed)]


def crossing_summary(found, summary, args):
    """Where the fitted ratio reaches the target, as a multiple of the spiking preset's compute, with the
    bootstrap's 95% interval and its share of resamples that never reach it (None until both fit)."""
    missing = [n for n in (args.ann, args.spiking) if "fid_fit" not in summary["models"][n]]
    if missing:
        return {"why_none": f"{', '.join(missing)} ran at one compute level; a fit needs two: "
                            "sdmbench sweep studies/scaling/compute.toml"}
    ann, snn = (tuple(np.array([[r[0] for r in found[n]], [r[2] for r in found[n]]], float))
                for n in (args.ann, args.spiking))
    preset = statistics.mode(r[0] for r in found[args.spiking])  # the preset's seeds: the most runs
    at = crossing(ann, snn, args.target)
    boot, never, total = bootstrap(ann, snn, args.target)
    low, high = (np.percentile(boot, [2.5, 97.5]) if boot else (math.nan, math.nan))
    slopes = slope_bootstrap(ann, snn)
    a_a, b_a = fit(*ann)
    same = math.exp((math.log(statistics.mean(snn[1][snn[0] == preset])) - a_a) / b_a) / preset
    return {"ann_compute_for_spiking_preset_fid": same,
            "ratio_slope": fit(*snn)[1] - b_a,
            "ratio_slope_95": [float(v) for v in np.percentile(slopes, [2.5, 97.5])] if slopes else None,
            "ratio_slope_share_growing": float(np.mean(np.array(slopes) >= 0)) if slopes else None,
            "samples_seen": math.exp(at) if at is not None else None,
            "multiple_of_spiking_preset": math.exp(at) / preset if at is not None else None,
            "bootstrap_95_multiple": [math.exp(low) / preset, math.exp(high) / preset] if boot else None,
            "bootstrap_never_share": never / total if total else None, "bootstrap_rounds": total}


def markdown(found, summary, args) -> str:
    """Per compute level (samples seen): each model's mean FID and KID over its runs there (seeds), its
    mean training CPU seconds, and the FID ratio where both ran."""
    levels = sorted({r[0] for rows in found.values() for r in rows})
    ratio = {m["samples_seen"]: m["fid_ratio"] for m in summary["matched"]}
    names = (args.ann, args.spiking)
    head = ["samples seen"] + [f"`{n}` {what}" for n in names for what in ("FID (seeds)", "KID", "CPU s")] \
        + ["FID ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in levels:
        cells = [f"{c:,}"]
        for n in names:
            rows = [r for r in found[n] if r[0] == c]
            if not rows:
                cells += ["-", "-", "-"]
                continue
            cells += [f"{statistics.mean(r[2] for r in rows):.2f} ({len(rows)})",
                      f"{statistics.mean(r[3] for r in rows):.3f}", f"{statistics.mean(r[1] for r in rows):,.0f}"]
        cells.append(f"{ratio[c]:.2f}x" if c in ratio else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=Path("leaderboard"))
    ap.add_argument("--spiking", default="sdm/tsm")
    ap.add_argument("--ann", default="sdm-ann")
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--target", type=float, default=2.0)
    ap.add_argument("--extractor", default="classifier-resnet", help="the pinned extractor whose scores are read")
    ap.add_argument("--device", default="cpu", help="only runs trained on this device (cpu, cuda)")
    ap.add_argument("--out", type=Path, default=Path("docs/studies/compute_scaling"))
    ap.add_argument("--markdown", action="store_true", help="also print the per-level table")
    return ap


def summarise(args: argparse.Namespace):
    """``(found, summary)``: each model's runs (``points``) and what ``--out``'s JSON holds: the runs, the
    power-law fits, the matched ratios and the crossing. A board it cannot read: :class:`UsageError`."""
    if not args.folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder: give the board (leaderboard) or a results folder")
    found = points(args.folder, (args.ann, args.spiking), args.dataset, args.extractor, args.device)
    summary = {"target_ratio": args.target, "extractor": args.extractor, "device": args.device, "models": {}}
    for name, rows in found.items():
        if not rows:
            raise UsageError(f"{name}: no quick-preset {args.dataset} runs trained on {args.device} and scored under "
                   f"{args.extractor} in {args.folder} (score them: sdmbench score RUN --extractor {args.extractor})")
        model = summary["models"][name] = {"runs": [dict(zip(
            ("samples_seen", "cpu_s", "fid", "kid", "train_steps", "seed"), r)) for r in sorted(rows)]}
        if len({r[0] for r in rows}) >= 2:  # a fit needs two compute levels
            for key, column in (("fid", 2), ("kid", 3)):
                xs, ys = np.array([r[0] for r in rows], float), np.array([r[column] for r in rows], float)
                model[f"{key}_fit"] = dict(zip(("a", "b"), map(float, fit(xs, ys))))
    summary["matched"] = matched(found, args.ann, args.spiking)
    summary["crossing"] = crossing_summary(found, summary, args)
    return found, summary


def main() -> None:
    args = parser().parse_args()
    try:
        found, summary = summarise(args)
    except UsageError as error:  # bad input: one line, status 2 (sdmbench.errors); a bug keeps its traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(found, summary, args)
    print(json.dumps({k: summary[k] for k in ("matched", "crossing")}, indent=2))
    if args.markdown:
        print(markdown(found, summary, args))


def plot(found, summary, args) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    colours = {args.ann: "#1f77b4", args.spiking: "#d62728"}  # as in spiking_gap.py
    for ax, key, column in ((axes[0], "fid", 2), (axes[1], "kid", 3)):
        for name, rows in found.items():
            colour = colours[name]
            xs = np.array([r[0] for r in rows], float)
            ax.scatter(xs, [r[column] for r in rows], color=colour, label=f"{name} (one point per run)", zorder=3)
            if f"{key}_fit" not in summary["models"][name]:
                continue  # one compute level: no fit yet
            a, b = summary["models"][name][f"{key}_fit"].values()
            for grid, style in ((np.geomspace(xs.min(), xs.max(), 30), "-"), (np.geomspace(xs.max(), xs.max() * 4, 30), "--")):
                ax.plot(grid, np.exp(a) * grid ** b, color=colour, alpha=0.6, linestyle=style,
                        label=f"fit: {key.upper()} ∝ C^{b:.2f} (dashed: extrapolated 4x)" if style == "-" else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training compute: samples seen (steps x batch)")
        ax.set_ylabel(f"{key.upper()} ({args.extractor}, N = 1000; lower is better)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    ax = axes[2]
    for name, rows in found.items():
        ax.scatter([r[1] for r in rows], [r[2] for r in rows], color=colours[name], label=name, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on this span
    ax.set_xlabel("training CPU seconds (older records: wall time x threads)")
    ax.set_ylabel("FID (lower is better)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    fig.suptitle(f"Fashion-MNIST, quick preset shape: quality against training compute ({args.spiking} vs {args.ann})")
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
