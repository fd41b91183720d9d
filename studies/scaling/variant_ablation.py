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

with R the FID ratio to the ANN (1: the gap is gone; 0.5: halved); on the FID means, ``closed = (F_f - F_v)
/ (F_f - F_a)``, with a 95% interval by the delta method (:func:`gap_closed`). Writes OUT.json and OUT.png
(FID ratio with its interval per variant and protocol; energy ratio per variant and energy model).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from sdmbench.errors import UsageError

SPIKING_STEM = "spiking"
#: the one setting a variant may change besides its neuron, as the board names it (a dotted leaf)
STEM_SETTING = "backbone.stem"


def gap_closed(faithful, variant, ann, level: float = 0.95):
    """The share of the faithful model's FID gap to the ANN that a variant closes, ``c = (F_f - F_v) /
    (F_f - F_a)`` on three entries' FID means (:class:`sdmbench.board.stats.Estimate`), with a ``level``
    interval by the delta method: ``c +- t_df * se``, ``se^2 = sum_i g_i^2 s_i^2 / n_i`` over the three
    entries, gradient ``g = ((F_v - F_a) / D^2, -1 / D, (F_f - F_v) / D^2)`` with ``D = F_f - F_a``, ``df``
    by Welch-Satterthwaite. A single seed anywhere: the share alone (``low = high = c``, ``n = 1``).
    None if an entry is missing or the faithful model has no gap (``D <= 0``)."""
    from scipy.stats import t

    from sdmbench.board.stats import Estimate

    if faithful is None or variant is None or ann is None or faithful.mean - ann.mean <= 0:
        return None
    gap = faithful.mean - ann.mean
    share = (faithful.mean - variant.mean) / gap
    entries = (faithful, variant, ann)
    if min(e.n for e in entries) < 2:
        return Estimate(share, share, share, 1, None)
    gradient = ((variant.mean - ann.mean) / gap ** 2, -1 / gap, (faithful.mean - variant.mean) / gap ** 2)
    terms = [g ** 2 * e.std ** 2 / e.n for g, e in zip(gradient, entries)]
    if sum(terms) == 0:
        return Estimate(share, share, share, min(e.n for e in entries), 0.0)
    df = sum(terms) ** 2 / sum(v ** 2 / (e.n - 1) for v, e in zip(terms, entries))
    half = float(t.ppf(0.5 + level / 2, df)) * math.sqrt(sum(terms))
    return Estimate(share, share - half, share + half, min(e.n for e in entries), None)


def variants(folder: Path, model: str, reference: str, study: str, baseline: str, energy):
    """``({(neuron, stem): {protocol: (row, fid)}}, {protocol: fid})``: ``model``'s faithful entry (neuron
    ``reference``, at its preset) and its entries made for ``study`` that leave the preset in at most the
    backbone's stem (priced under ``energy = (name, model)``), each row with its FID estimate over seeds;
    then the ranked ``baseline`` entry's FID estimate per protocol."""
    from sdmbench.board import leaderboard
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.cli.leaderboard import preset_lookup
    from sdmbench.board.entries import RANKED
    from sdmbench.running.records import load_records
    from sdmbench.scoring import columns

    p = plugins.get()
    records, _ = load_records(folder)
    preset_of, out, ann = preset_lookup(p), {}, {}
    fid = columns.ranking(columns.installed(p)).key
    for entry, row in leaderboard.entry_rows(records, aliases=p.model.aliases(), preset_of=preset_of,
                                             baseline=baseline, energy=energy):
        if entry.section == RANKED and entry.named(baseline):
            ann[row["protocol"]] = entry.values.get(fid)
        faithful = entry.neuron == reference and not entry.changes and not entry.studies
        if entry.model != model or entry.section == "diverged" or not (faithful or study in entry.studies):
            continue
        if set(entry.changes) - {STEM_SETTING}:
            continue  # off the preset in more than the stem (changes are dotted leaves: backbone.stem)
        backbone = (entry.first.get("config") or {}).get("backbone") or {}
        out.setdefault((entry.neuron, backbone.get("stem", SPIKING_STEM)), {})[row["protocol"]] = \
            (row, entry.values.get(fid))
    return out, ann


def describe(neuron: str, stem: str, reference: str) -> str:
    changes = ([f"{neuron} neuron"] if neuron != reference else []) + (["analog stem"] if stem != SPIKING_STEM else [])
    return " + ".join(changes) if changes else f"faithful ({reference}, spiking stem)"


def analyse(folder: Path, model: str, reference: str, study: str, baseline: str):
    from sdmbench.energy.model import registered_models

    models, default = registered_models()
    tables = {name: variants(folder, model, reference, study, baseline, (name, m)) for name, m in models.items()}
    quality, ann = tables[default]
    faithful = quality.get((reference, SPIKING_STEM))
    if not faithful:
        raise UsageError(f"no faithful {model}/{reference} entry in {folder}: it is the ablation's reference")
    if not ann:
        raise UsageError(f"no ranked {baseline} entry in {folder}: the ablation's ratios are to it")
    result = []
    for (neuron, stem), by_protocol in sorted(quality.items(), key=lambda kv: (kv[0][0] != reference, kv[0][1] != SPIKING_STEM, kv[0])):
        row = {"variant": describe(neuron, stem, reference), "neuron": neuron, "stem": stem, "protocols": {},
               "energy": {}}
        for protocol, (r, fid) in by_protocol.items():
            closed = gap_closed(faithful.get(protocol, (None, None))[1], fid, ann.get(protocol))
            row["protocols"][protocol] = {
                "seeds": r["seeds"], "seed_list": r["seed_list"], "fid": r["fid"],
                "fid_ratio": r.get("fid_ratio"), "fid_ratio_ci": [r.get("fid_ratio_ci_low"), r.get("fid_ratio_ci_high")],
                "fid_p": r.get("fid_p"), "gap_closed": closed.mean if closed else None,
                "gap_closed_ci": [closed.low, closed.high] if closed and closed.n > 1 else [None, None],
                "run_ids": r["run_ids"]}
            row["mean_firing_rate"] = r.get("mean_firing_rate")
        for name, (table, _) in tables.items():
            first, _ = next(iter(table[(neuron, stem)].values()))
            row["energy"][name] = {"mj_per_image": first.get("energy_mj_per_image"),
                                   "ratio": first.get("energy_ratio")}
        result.append(row)
    return result


def markdown(result) -> str:
    protocols = list(result[0]["protocols"])
    energies = list(result[0]["energy"])
    head = ["variant", "seeds"] + [f"FID / ANN [95%], gap closed [95%] ({p.split('@')[0]})" for p in protocols] \
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
                else f", {100 * q['gap_closed']:.0f}%" + share_interval(q["gap_closed_ci"])
            cells.append(f"{q['fid']:.1f}: {q['fid_ratio']:.2f}x{interval}{closed}")
        rate = row.get("mean_firing_rate")
        cells.append("-" if rate is None else f"{100 * rate:.1f}%")
        cells += [f"{e['mj_per_image']:.3g} ({e['ratio']:.2f})" for e in row["energy"].values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def share_interval(bounds) -> str:
    low, high = bounds
    return "" if low is None else f" [{100 * low:.0f}, {100 * high:.0f}]"


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
    try:
        if not args.folder.is_dir():
            raise UsageError(f"{args.folder} is not a folder: give the board (leaderboard) or a results folder")
        result = analyse(args.folder, args.model, args.reference, args.study, args.baseline)
    except UsageError as error:  # bad input: one line, status 2 (sdmbench.errors); a bug keeps its traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    print(markdown(result) if args.markdown else json.dumps(result, indent=2))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
