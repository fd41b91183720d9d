"""README's figure for issues 20 and 33: how much of the spiking U-Net's FID gap to its ANN twin is training
compute and how much architecture, and at what energy.

    python studies/scaling/spiking_gap.py [--scaling docs/studies/compute_scaling.json]
                                     [--variant docs/studies/spiking_variant.json] [--out docs/studies/spiking_gap.png]

Reads what ``studies/scaling/compute_scaling.py`` and ``studies/scaling/variant_ablation.py`` wrote (run those
first). Left: FID against training compute (samples seen, log-log), one point per run, with each
model's power-law fit ``FID = e^a C^b``, the ANN's fit doubled (the 2x target), and the ablation's
variants at the spiking preset's compute (mean over seeds). Middle: the SNN/ANN FID ratio at each
compute level both ran at (mean FIDs), the ratio of the fits ``e^(a_s - a_a) C^(b_s - b_a)``, and the
variants' ratios. Right: the cost of each: FID ratio to the ANN (mean over seeds) against energy per
image under every energy model.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

def own(protocols, extractor: str):
    """The ablation row's values under the compute study's extractor (protocol keys read 'NAME@hash, ...')."""
    return next(q for p, q in protocols.items() if p.split("@")[0] == extractor)


def extractor_of(scaling) -> str:
    """The extractor the compute study scored with (older studies: the records' own, ``classifier``)."""
    return scaling.get("extractor", "classifier")


def compute_panel(ax, scaling, variants, spiking: str, ann: str) -> None:
    colours = {ann: "#1f77b4", spiking: "#d62728"}
    preset = statistics.mode(r["samples_seen"] for r in scaling["models"][spiking]["runs"])
    for name, model in scaling["models"].items():
        runs, colour = model["runs"], colours.get(name, "grey")
        ax.scatter([r["samples_seen"] for r in runs], [r["fid"] for r in runs], color=colour,
                   s=18, zorder=3, label=f"{name}: one point per run")
        if "fid_fit" not in model:
            continue  # one compute level so far: no fit
        a, b = model["fid_fit"]["a"], model["fid_fit"]["b"]
        low, high = min(r["samples_seen"] for r in runs), max(r["samples_seen"] for r in runs)
        for xs, style, what in ((np.geomspace(low, high, 30), "-", f"{name} fit: FID ∝ C^{b:.2f}"),
                                (np.geomspace(high, high * 4, 30), "--", "the same, extrapolated 4x")):
            ax.plot(xs, np.exp(a) * xs ** b, color=colour, alpha=0.6, linestyle=style, label=what)
        if name == ann:
            xs = np.geomspace(low, high * 4, 60)
            ax.plot(xs, 2 * np.exp(a) * xs ** b, color=colour, linestyle=":", label=f"2 x {ann}'s fit (the 2x target)")
    for k, row in enumerate(v for v in variants if v["variant"] != variants[0]["variant"]):
        q = own(row["protocols"], extractor_of(scaling))
        ax.scatter([preset], [q["fid"]], marker="D", s=45, color=f"C{k + 2}", zorder=4,
                   label=f"{spiking} {row['variant']} ({q['seeds']} seed{'s' if q['seeds'] > 1 else ''})")
    ax.axvline(preset, color="grey", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute: samples seen (steps x batch; grey: the quick preset of sdm)")
    ax.set_ylabel(f"FID ({extractor_of(scaling)} features, N = 1000)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)


def ratio_panel(ax, scaling, variants, spiking: str, ann: str) -> None:
    """The SNN/ANN FID ratio at matched compute (means over seeds), the fits' ratio and the target."""
    levels = scaling["matched"]
    xs = np.array([m["samples_seen"] for m in levels], float)
    ax.plot(xs, [m["fid_ratio"] for m in levels], "o-", color="#d62728",
            label=f"{spiking} / {ann}, measured (mean FIDs at each compute)")
    fa, fs = scaling["models"][ann].get("fid_fit"), scaling["models"][spiking].get("fid_fit")
    if fa and fs:
        grid = np.geomspace(xs.min(), xs.max() * 4, 60)  # as far as the compute panel extrapolates
        ax.plot(grid, np.exp(fs["a"] - fa["a"]) * grid ** (fs["b"] - fa["b"]), color="#d62728", alpha=0.5,
                linestyle="--", label=f"ratio of the fits: ∝ C^{fs['b'] - fa['b']:+.2f}")
    preset = statistics.mode(r["samples_seen"] for r in scaling["models"][spiking]["runs"])
    for k, row in enumerate(v for v in variants if v["variant"] != variants[0]["variant"]):
        q = own(row["protocols"], extractor_of(scaling))
        ax.scatter([preset], [q["fid_ratio"]], marker="D", s=45, color=f"C{k + 2}", zorder=4,
                   label=f"{row['variant']} ({q['seeds']} seed{'s' if q['seeds'] > 1 else ''})")
    ax.axhline(2, color="grey", linestyle="--", linewidth=0.8, label="2x: the target ratio")
    ax.axhline(1, color="black", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("training compute: samples seen")
    ax.set_ylabel("FID / ANN twin's FID at the same compute")
    ax.set_ylim(0, None)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)


def energy_panel(ax, variants, extractor: str) -> None:
    models = list(variants[0]["energy"])
    for m, marker in zip(models, "os^v"):
        ax.scatter([1.0], [1.0], marker=marker, color="#1f77b4", s=40, zorder=3)
    for k, row in enumerate(variants):
        q = own(row["protocols"], extractor)
        for m, marker in zip(models, "os^v"):
            ax.scatter([q["fid_ratio"]], [row["energy"][m]["ratio"]], marker=marker, color=f"C{k + 1}" if k else "#d62728",
                       s=40, zorder=3)
        ax.annotate(row["variant"], (q["fid_ratio"], row["energy"][models[0]]["ratio"]), fontsize=7,
                    xytext=(4, -10), textcoords="offset points")
    for m, marker in zip(models, "os^v"):
        ax.scatter([], [], marker=marker, color="black", label=f"energy model {m}")
    ax.annotate("ANN twin", (1.0, 1.0), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.axvline(2, color="grey", linestyle="--", linewidth=0.8, label="2x: the target ratio")
    ax.axhline(1, color="black", linewidth=0.6)
    ax.set_xlabel(f"FID / ANN twin's (mean over seeds, {extractor} features)")
    ax.set_ylabel("energy per image / ANN twin's")
    ax.set_xlim(0.8, None)
    ax.set_ylim(0, None)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scaling", type=Path, default=Path("docs/studies/compute_scaling.json"))
    ap.add_argument("--variant", type=Path, default=Path("docs/studies/spiking_variant.json"))
    ap.add_argument("--spiking", default="sdm/tsm")
    ap.add_argument("--ann", default="sdm-ann")
    ap.add_argument("--out", type=Path, default=Path("docs/studies/spiking_gap.png"))
    args = ap.parse_args()
    for path, script in ((args.scaling, "compute_scaling"), (args.variant, "variant_ablation")):
        if not path.is_file():
            print(f"error: {path} is missing: run python studies/scaling/{script}.py first", file=sys.stderr)
            raise SystemExit(2)
    scaling, variants = json.loads(args.scaling.read_text()), json.loads(args.variant.read_text())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(19, 5.2), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    compute_panel(left, scaling, variants, args.spiking, args.ann)
    ratio_panel(middle, scaling, variants, args.spiking, args.ann)
    energy_panel(right, variants, extractor_of(scaling))
    fig.suptitle("Fashion-MNIST, quick preset shape: the spiking gap against training compute, architecture "
                 "and energy")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
