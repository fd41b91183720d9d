"""The SNN/ANN energy ratio under every energy model, and the firing rate at
which a spiking generator stops saving energy.

    python studies/energy/energy_models.py RUN_DIR... [--baseline sdm-ann] [--out docs/studies/energy_models]

Reads the records of finished runs (their per-layer counts per image, the
current counter's: ``sdmbench score RUN --recount-energy`` brings an older
record up to date), groups them by model/neuron, and prices each group's mean
counts under every installed energy model. For each spiking group and model it
prints the energy ratio to the baseline (the ANN twin) and the mean firing
rate (runs of a named study, trials, are skipped), and solves for the
break-even rate: only the synaptic accumulates grow with the spikes
(``ACs(r) = ACs x r / r_measured``; every other count, memory of dense maps
and neuron states included, does not), so

    E(r) = E_fixed + r x k,   r* = (E_ANN - E_fixed) / k

(no r* when E_fixed alone exceeds the ANN's: the model never saves energy).
``--markdown`` also prints the answer as README's table. Writes ``OUT.json``
and ``OUT.png`` (energy ratio against mean firing rate, one line per energy
model, the measured rates marked).
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def load(folders):
    from sdmbench.energy import Layer

    groups = defaultdict(list)
    for folder in folders:
        record = json.loads((Path(folder) / "record.json").read_text())
        study = (record.get("config") or {}).get("study")
        if study:  # a study's trial (other training steps, a variant): not a preset entry's seed
            print(f"skipped {folder}: a run of the study '{study}'")
            continue
        energy = record["details"]["energy"]
        if "models" not in energy:
            raise SystemExit(f"{folder}: counted by the first counter; run sdmbench score {folder} --recount-energy")
        name = record["model"] + (f"/{record['neuron']}" if record.get("neuron") and record.get("T", 1) > 1 else "")
        layers = {n: Layer.from_dict(v) for n, v in energy["layers"].items()}
        groups[name].append((layers, record["metrics"].get("mean_firing_rate")))
    return groups


def mean_layers(runs):
    """The runs' per-layer counts, averaged (the layers of one model are the same in every run)."""
    from sdmbench.energy import Counts

    names = runs[0][0].keys()
    out = {}
    for name in names:
        total = Counts()
        for layers, _ in runs:
            total = total + layers[name].counts
        out[name] = runs[0][0][name].with_counts(total.scaled(1 / len(runs)))
    return out


def without_acs(layers):
    from dataclasses import replace

    return {n: layer.with_counts(replace(layer.counts, acs=0)) for n, layer in layers.items()}


def analyse(groups, baseline, models):
    base = mean_layers(groups[baseline])
    out = {}
    for name, runs in sorted(groups.items()):
        layers = mean_layers(runs)
        rates = [r for _, r in runs if r is not None]
        rate = statistics.mean(rates) if rates else None
        row = {"runs": len(runs), "mean_firing_rate": rate, "models": {}}
        for m_name, model in models.items():
            priced = model.price(layers)
            e, e_ann = priced.total_j, model.price(base).total_j
            fixed = model.price(without_acs(layers)).total_j
            slope = (e - fixed) / rate if rate else 0.0
            breakeven = (e_ann - fixed) / slope if slope > 0 and e_ann > fixed else None
            row["models"][m_name] = {"energy_per_image_mj": e * 1e3, "memory_mj": priced.memory_j * 1e3,
                                     "ratio_to_baseline": e / e_ann,
                                     "fixed_mj": fixed * 1e3, "per_unit_rate_mj": slope * 1e3,
                                     "breakeven_firing_rate": breakeven,
                                     "baseline_energy_per_image_mj": e_ann * 1e3}
        out[name] = row
    return out


def markdown(result, baseline) -> str:
    """The answer as README gives it: per group, energy per image and its ratio to the baseline under
    every model (memory's share where a model prices it), and the break-even firing rates."""
    names = list(next(iter(result.values()))["models"])
    head = ["group", "runs", "firing rate"] + [f"`{m}` mJ / image (x {baseline})" for m in names] \
        + ["break-even firing rate (" + ", ".join(names) + ")"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in result.items():
        rate = row["mean_firing_rate"]
        cells = [f"`{name}`", str(row["runs"]), "-" if rate is None else f"{100 * rate:.1f}%"]
        for m in row["models"].values():
            memory = f", {m['memory_mj']:.3g} of it memory" if m["memory_mj"] else ""
            cells.append(f"{m['energy_per_image_mj']:.3g}{memory} ({m['ratio_to_baseline']:.2f})")
        rates = [m["breakeven_firing_rate"] for m in row["models"].values()]
        cells.append("-" if rate is None else ", ".join("none" if r is None else f"{100 * r:.0f}%" for r in rates))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result, baseline, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spiking = {n: r for n, r in result.items() if n != baseline and r["mean_firing_rate"]}
    cols = min(2, len(spiking))
    rows = -(-len(spiking) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4 * rows), squeeze=False)
    for ax in axes.flat[len(spiking):]:
        ax.axis("off")
    for ax, (name, row) in zip(axes.flat, spiking.items()):
        rates = [i / 100 for i in range(0, 101)]
        for m_name, m in row["models"].items():
            base = m["baseline_energy_per_image_mj"]
            line = ax.plot([r * 100 for r in rates], [(m["fixed_mj"] + r * m["per_unit_rate_mj"]) / base for r in rates],
                           label=m_name)[0]
            ax.plot(row["mean_firing_rate"] * 100, m["ratio_to_baseline"], "o", color=line.get_color())
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("mean firing rate (%)")
        ax.set_ylabel(f"energy per image / {baseline}'s")
        ax.set_title(f"{name} ({row['runs']} runs; dot: measured)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    from sdmbench.energy.model import registered_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--baseline", default="sdm-ann")
    ap.add_argument("--out", default="docs/studies/energy_models")
    ap.add_argument("--markdown", action="store_true", help="also print the answer as a markdown table")
    args = ap.parse_args()
    groups = load(args.runs)
    if args.baseline not in groups:
        raise SystemExit(f"no run of the baseline '{args.baseline}' among the runs ({', '.join(groups)})")
    models, _ = registered_models()
    result = analyse(groups, args.baseline, models)
    for name, row in result.items():
        rate = row["mean_firing_rate"]
        print(f"{name} ({row['runs']} runs, firing rate {rate if rate is None else round(rate, 4)})")
        for m_name, m in row["models"].items():
            b = m["breakeven_firing_rate"]
            print(f"  {m_name:14s} {m['energy_per_image_mj']:10.4f} mJ/image  ratio {m['ratio_to_baseline']:.3f}  "
                  f"break-even rate {'none' if b is None else f'{b:.4f}'}")
    if args.markdown:
        print(markdown(result, args.baseline))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"baseline": args.baseline, "groups": result}, indent=2) + "\n")
    plot(result, args.baseline, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
