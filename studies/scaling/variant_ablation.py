"""Issue 20's ablation of the spiking variant: each change to the faithful ``sdm``/``tsm`` alone and
together, its FID against the ANN twin's under each protocol, and its energy per image under every
energy model.

    python studies/scaling/variant_ablation.py [RECORDS_DIR] [--model sdm] [--reference tsm] [--study spiking-variant]
                                          [--baseline sdm-ann] [--out docs/studies/spiking_variant] [--markdown]

A variant is an entry of the board (ranked or trial) of ``--model`` whose runs were made for the
study (``studies/scaling/variant.toml``) and that leaves the preset in at most its neuron and its
backbone's ``stem``; the reference is the faithful entry (neuron ``--reference``, spiking stem, the
board's seeds). Every
number comes from ``sdmbench.board.leaderboard.entry_rows`` with the baseline (what ``sdmbench leaderboard
--baseline sdm-ann`` shows): per protocol the FID mean over seeds, its ratio to the baseline's mean
with the 95% delta-method interval (``sdmbench.board.stats.ratio``) and Welch's p, and per energy model the
mean energy per image and its ratio. The gap's share closed by a variant is

    closed = (R_faithful - R_variant) / (R_faithful - 1),

with R the FID ratio to the ANN (1: the gap is gone; 0.5: halved). Writes OUT.json and OUT.png (FID
ratio with its interval per variant and protocol; energy ratio per variant and energy model).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

SPIKING_STEM = "spiking"


def variants(folder: Path, model: str, reference: str, study: str, baseline: str, energy):
    """``{(neuron, stem): {protocol: row}}``: ``model``'s faithful entry (neuron ``reference``, at its
    preset) and its entries made for ``study`` that leave the preset in at most the backbone's stem
    (priced under ``energy = (name, model)``)."""
    from sdmbench.board import leaderboard
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.cli.leaderboard import preset_config
    from sdmbench.board.entries import normal
    from sdmbench.running.records import load_records

    p = plugins.get()
    records, _ = load_records(folder)
    preset_of, out = preset_config(p), {}
    for entry, row in leaderboard.entry_rows(records, aliases=p.model.aliases(), preset_of=preset_of,
                                             baseline=baseline, energy=energy):
        faithful = entry.neuron == reference and not entry.changes and not entry.studies
        if entry.model != model or entry.section == "diverged" or not (faithful or study in entry.studies):
            continue
        backbone = (entry.first.get("config") or {}).get("backbone") or {}
        preset = normal(preset_of(entry.first) or {}).get("backbone") or {}
        if set(entry.changes) - {"backbone"} or {k for k, v in backbone.items() if preset.get(k) != v} - {"stem"}:
            continue  # off the preset in more than the stem
        out.setdefault((entry.neuron, backbone.get("stem", SPIKING_STEM)), {})[row["protocol"]] = row
    return out


def describe(neuron: str, stem: str, reference: str) -> str:
    changes = ([f"{neuron} neuron"] if neuron != reference else []) + (["analog stem"] if stem != SPIKING_STEM else [])
    return " + ".join(changes) if changes else f"faithful ({reference}, spiking stem)"


def analyse(folder: Path, model: str, reference: str, study: str, baseline: str):
    from sdmbench.energy.model import registered_models

    models, default = registered_models()
    tables = {name: variants(folder, model, reference, study, baseline, (name, m)) for name, m in models.items()}
    quality = tables[default]
    faithful = quality.get((reference, SPIKING_STEM))
    if not faithful:
        raise SystemExit(f"no faithful {model}/{reference} entry in {folder}: it is the ablation's reference")
    result = []
    for (neuron, stem), by_protocol in sorted(quality.items(), key=lambda kv: (kv[0][0] != reference, kv[0][1] != SPIKING_STEM, kv[0])):
        row = {"variant": describe(neuron, stem, reference), "neuron": neuron, "stem": stem, "protocols": {},
               "energy": {}}
        for protocol, r in by_protocol.items():
            ref = faithful.get(protocol, {}).get("fid_ratio")
            ratio = r.get("fid_ratio")
            closed = (ref - ratio) / (ref - 1) if ref and ratio and ref > 1 else None
            row["protocols"][protocol] = {
                "seeds": r["seeds"], "seed_list": r["seed_list"], "fid": r["fid"],
                "fid_ratio": ratio, "fid_ratio_ci": [r.get("fid_ratio_ci_low"), r.get("fid_ratio_ci_high")],
                "fid_p": r.get("fid_p"), "gap_closed": closed, "run_ids": r["run_ids"]}
            row["mean_firing_rate"] = r.get("mean_firing_rate")
        for name, table in tables.items():
            first = next(iter(table[(neuron, stem)].values()))
            row["energy"][name] = {"mj_per_image": first.get("energy_mj_per_image"),
                                   "ratio": first.get("energy_ratio")}
        result.append(row)
    return result


def markdown(result) -> str:
    protocols = list(result[0]["protocols"])
    energies = list(result[0]["energy"])
    head = ["variant", "seeds"] + [f"FID / ANN [95%], gap closed ({p.split('@')[0]})" for p in protocols] \
        + ["firing rate"] + [f"`{m}` mJ / image (x ANN)" for m in energies]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result:
        first = row["protocols"][protocols[0]]
        cells = [row["variant"], str(first["seeds"])]
        for p in protocols:
            q = row["protocols"].get(p)
            if q is None or q["fid_ratio"] is None:
                cells.append("-")
                continue
            low, high = q["fid_ratio_ci"]
            interval = f" [{low:.2f}, {high:.2f}]" if low is not None else ""
            closed = "" if q["gap_closed"] is None or row["variant"].startswith("faithful") \
                else f", {100 * q['gap_closed']:.0f}%"
            cells.append(f"{q['fid']:.1f}: {q['fid_ratio']:.2f}x{interval}{closed}")
        rate = row.get("mean_firing_rate")
        cells.append("-" if rate is None else f"{100 * rate:.1f}%")
        cells += [f"{e['mj_per_image']:.3g} ({e['ratio']:.2f})" for e in row["energy"].values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["variant"] for r in result]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.8 * len(result) + 2.2), sharey=True)
    protocols = list(result[0]["protocols"])
    for k, protocol in enumerate(protocols):
        for i, row in enumerate(result):
            q = row["protocols"].get(protocol)
            if not q or q["fid_ratio"] is None:
                continue
            y = i + 0.25 * (k - (len(protocols) - 1) / 2)
            low, high = q["fid_ratio_ci"]
            err = [[q["fid_ratio"] - low], [high - q["fid_ratio"]]] if low is not None else None
            left.errorbar(q["fid_ratio"], y, xerr=err, fmt="o", color=f"C{k}", capsize=3,
                          label=f"{protocol.split('@')[0]} features" if i == 0 else None)
    left.axvline(2, color="grey", linestyle="--", label="2x: the target ratio")
    left.axvline(1, color="black", linewidth=0.8)
    left.set_xscale("log")
    left.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xticks([1, 1.5, 2, 3, 4, 6, 8])
    left.set_xlabel("FID / ANN twin's FID (mean over seeds, 95% interval; log axis)")
    left.legend(fontsize=7)
    for k, name in enumerate(result[0]["energy"]):
        ys = [i + 0.2 * (k - 1) for i in range(len(result))]
        right.barh(ys, [r["energy"][name]["ratio"] for r in result], height=0.2, color=f"C{k + 3}", label=name)
    right.axvline(1, color="black", linewidth=0.8)
    right.set_xlabel("energy per image / ANN twin's, per energy model")
    right.legend(fontsize=7)
    left.set_yticks(range(len(result)))
    left.set_yticklabels(labels)
    left.invert_yaxis()
    fig.suptitle("Spiking-variant ablation (sdm at the quick preset, Fashion-MNIST)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=Path("leaderboard"))
    ap.add_argument("--model", default="sdm")
    ap.add_argument("--reference", default="tsm", help="the faithful entry's neuron")
    ap.add_argument("--study", default="spiking-variant", help="the study the variants' runs were made for")
    ap.add_argument("--baseline", default="sdm-ann")
    ap.add_argument("--out", type=Path, default=Path("docs/studies/spiking_variant"))
    ap.add_argument("--markdown", action="store_true", help="print the ablation as README's table")
    args = ap.parse_args()
    result = analyse(args.folder, args.model, args.reference, args.study, args.baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    print(markdown(result) if args.markdown else json.dumps(result, indent=2))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
