"""Threshold guidance (SDM), the sdm plugin's ``sdmbench sweep-threshold RUN``:
score one trained run at several inference thresholds v_th, under the run's
own protocol. It works on a run of any spiking model whose neurons take a
threshold.

Each value is a full run resumed from the trained stages (training is reused,
nothing is retrained), so every point is also a record on the leaderboard. The
sweep writes ``threshold-sweep.json`` and ``threshold-sweep.png`` (FID and
mean firing rate against v_th) into the swept run's folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import typer
from rich.table import Table

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.running.config import RunConfig
from sdmbench.cli.console import out, progress_bars
from sdmbench.running.configure import configure
from sdmbench.errors import UsageError
from sdmbench.running.records import check_writable, write_json_atomic


def parse_values(text: str) -> List[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--values takes numbers separated by commas, got '{text}'") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"--values needs positive thresholds, got '{text}'")
    return values


def sweep(run_dir: Path, values: Sequence[float], overrides: Dict[str, Any], plugins, progress=None,
          log=print) -> List[Dict[str, Any]]:
    from sdmbench.running.records import read_config
    from sdmbench.running.runner import check_saved_state, execute

    base = read_config(run_dir, "sweep-threshold")
    if not RunConfig.from_dict(base).spiking:
        raise UsageError(f"threshold guidance needs a spiking model; {run_dir} is a '{base['model']}' run")
    if not any(run_dir.glob("stage-*.pt")):
        raise UsageError(f"sweep-threshold {run_dir}: no trained stage (stage-*.pt) there; pass a finished run")
    check_saved_state(run_dir, "sweep-threshold")
    check_writable(run_dir, "threshold-sweep.json")
    rows = []
    for value in values:
        config = configure(plugins, {**overrides, "threshold": value,
                                     "results_dir": overrides.get("results_dir") or str(run_dir.parent)},
                           base=base)
        record = execute(config, progress=progress, plugins=plugins, log=log, resume=run_dir).record
        m = record["metrics"]
        rows.append({"threshold": value, "fid": m.get("fid"), "energy_per_image_mj": m.get("energy_per_image_mj"),
                     "mean_firing_rate": m.get("mean_firing_rate"), "run_id": record["run_id"],
                     "protocol_key": record["protocol_key"]})
    write_json_atomic(run_dir / "threshold-sweep.json", {"run": str(run_dir), "rows": rows})
    plot(rows, run_dir / "threshold-sweep.png", title=run_dir.name)
    return rows


def plot(rows: List[Dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["threshold"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(xs, [r["fid"] for r in rows], "o-", color="tab:blue", label="FID")
    ax.set_xlabel("inference threshold v_th (trained at 1.0)")
    ax.set_ylabel("FID", color="tab:blue")
    rates = [r["mean_firing_rate"] for r in rows]
    if all(r is not None for r in rates):
        twin = ax.twinx()
        twin.plot(xs, rates, "s--", color="tab:orange", label="mean firing rate")
        twin.set_ylabel("mean firing rate", color="tab:orange")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_title(f"threshold guidance: {title}", fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def sweep_threshold_cmd(
    run_dir: Path = typer.Argument(..., help="a finished run of a spiking model"),
    values: str = typer.Option("0.997,0.998,0.999,1.0,1.001,1.002,1.003", help="thresholds, comma-separated"),
    results_dir: Optional[Path] = typer.Option(None, help="where the per-value records go (default: beside RUN_DIR)"),
):
    """Threshold guidance: score a trained run at several inference thresholds."""
    thresholds = parse_values(values)
    if not run_dir.is_dir():
        raise UsageError(f"no run folder at {run_dir}")
    plugins = plugin_loader.get()
    with progress_bars(transient=True) as progress:
        rows = sweep(run_dir, thresholds, {"results_dir": str(results_dir) if results_dir else None}, plugins,
                     progress=progress, log=lambda *a: None)
    table = Table(title=f"threshold guidance · {run_dir.name}")
    for col in ("v_th", "FID", "energy mJ/image", "mean firing rate", "run id"):
        table.add_column(col, justify="left" if col == "run id" else "right")
    best = min(r["fid"] for r in rows)
    for r in rows:
        fid = f"{r['fid']:.2f}" + (" *" if r["fid"] == best else "")
        table.add_row(f"{r['threshold']:g}", fid, f"{r['energy_per_image_mj']:.4f}",
                      f"{r['mean_firing_rate']:.4f}", r["run_id"])
    out.print(table)
    out.print(f"plot: {run_dir / 'threshold-sweep.png'}")


def register(app: typer.Typer) -> None:
    app.command("sweep-threshold")(sweep_threshold_cmd)
