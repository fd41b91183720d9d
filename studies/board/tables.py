"""The README's tables of the published board: quality per protocol, and energy under every energy
model, each entry against a baseline entry (the ANN twin) with 95% intervals.

    python studies/board/tables.py [RECORDS_DIR] [--baseline sdm-ann]

Contrasts: TSM against IF (the FID ratio ``sdm``/``tsm`` over ``sdm``/``if`` with its 95% interval and
Welch's p) under every protocol, and every entry's rank range from its first three seeds (0-2) and from
all of them, so the effect of more seeds on what the board can tell apart is shown.

Quality: per protocol (extractor, N), each ranked entry's mean ± half-width of the 95% t-interval over
its seeds for FID, KID, precision and recall, its FID and KID as ratios to the baseline's [95%
interval], and Welch's p for the FID difference, alone and Holm-adjusted over the entries tested
against the baseline. Energy: per energy model, mJ per image (mean ±
half-width) and its ratio to the baseline's, with the mean firing rate. Everything comes from
``sdmbench.board.leaderboard.rows`` (what ``sdmbench leaderboard --baseline`` shows).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def board(folder: Path, baseline: str, energy, seeds=None):
    """The ranked rows of the board in ``folder`` against ``baseline`` (only the runs of ``seeds``, if given)."""
    from sdmbench.board import leaderboard
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.cli.leaderboard import preset_lookup
    from sdmbench.running.records import load_records

    p = plugins.get()
    records, _ = load_records(folder)
    if seeds is not None:
        records = [r for r in records if (r.get("config") or {}).get("seed", 0) in seeds]
    names = {r["model"] + (f"/{r['neuron']}" if r.get("neuron") else "") for r in records}
    return [r for r in leaderboard.rows(records, aliases=p.model.aliases(), preset_of=preset_lookup(p),
                                        baseline=baseline if baseline in names else None, energy=energy)
            if r["section"] == "ranked"]


def contrasts(folder: Path, energy, first=(0, 1, 2)) -> str:
    """TSM against IF per protocol, and each entry's rank range from seeds ``first`` and from all seeds."""
    from sdmbench.board.leaderboard import display

    out = ["| protocol | `sdm`/`tsm` FID / `sdm`/`if` [95%] | seeds (tsm, if) | p (Welch) |", "|---|---|---|---|"]
    for row in board(folder, "sdm/if", energy):
        if row["model"] == "sdm" and row["neuron"] == "tsm" and "fid_ratio" in row:
            seeds_if = next((r["seeds"] for r in board(folder, "sdm/if", energy)
                             if r["protocol"] == row["protocol"] and r["neuron"] == "if"), "-")
            out.append(f"| {row['protocol']} | {display(row, 'fid_ratio')} | {row['seeds']}, {seeds_if} | "
                       f"{row.get('fid_p') if row.get('fid_p') is not None else '-'} |")
    few = {(r["protocol"], name(r)): r for r in board(folder, "", energy, seeds=set(first))}
    out += ["", f"| protocol | entry | rank, seeds {first[0]}-{first[-1]} | rank, all seeds | seeds |",
            "|---|---|---|---|---|"]
    for row in board(folder, "", energy):
        before = few.get((row["protocol"], name(row)))
        out.append(f"| {row['protocol']} | {name(row)} | {before['rank'] if before else '-'} | {row['rank']} | "
                   f"{row['seeds']} |")
    return "\n".join(out)


def name(row) -> str:
    return f"`{row['model']}`" + (f" / `{row['neuron']}`" if row["neuron"] != "-" else "")


def quality(rows) -> str:
    from sdmbench.board.leaderboard import display

    out, protocol = [], None
    for row in rows:
        if row["protocol"] != protocol:
            protocol = row["protocol"]
            out += ["", "", f"*{protocol}*:", "", "| entry | seeds | FID | KID | precision | recall | FID / baseline "
                    "[95%] | p (Welch) | p (Holm) | KID / baseline [95%] |", "|---|---|---|---|---|---|---|---|---|---|"]
        cells = [name(row), display(row, "seeds")] + [display(row, c) for c in ("fid", "kid", "precision", "recall")]
        cells += [display(row, "fid_ratio") if "fid_ratio" in row else "-", str(row.get("fid_p") or "-"),
                  str(row.get("fid_p_holm") or "-"),
                  display(row, "kid_ratio") if "kid_ratio" in row else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def energy(tables) -> str:
    from sdmbench.board.leaderboard import display

    models = list(tables)
    first = [r for r in tables[models[0]] if r["protocol"] == tables[models[0]][0]["protocol"]]
    out = ["| entry | seeds | firing rate | " + " | ".join(f"`{m}` mJ / image | ratio [95%]" for m in models) + " |",
           "|---|---|---|" + "---|---|" * len(models)]
    for row in first:
        cells = [name(row), str(row["seeds"]), display(row, "mean_firing_rate")]
        for m in models:
            same = next(r for r in tables[m] if r["run_ids"] == row["run_ids"] and r["protocol"] == row["protocol"])
            cells += [display(same, "energy_mj_per_image"),
                      display(same, "energy_ratio") if "energy_ratio" in same else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    from sdmbench.energy.model import registered_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=Path("leaderboard"))
    ap.add_argument("--baseline", default="sdm-ann")
    args = ap.parse_args()
    models, default = registered_models()
    print("## Quality" + quality(board(args.folder, args.baseline, (default, models[default]))))
    print("\n## Contrasts\n\n" + contrasts(args.folder, (default, models[default])))
    tables = {n: board(args.folder, args.baseline, (n, m)) for n, m in models.items()}
    print("\n## Energy\n\n" + energy(tables))


if __name__ == "__main__":
    main()
