"""Threshold guidance sweep (SDM): score one trained run at several inference
thresholds v_th, under the run's own protocol.

Each value is a full run resumed from the trained stages (training is reused,
nothing is retrained), so every point is also a record on the leaderboard. The
sweep writes ``threshold-sweep.json`` and ``threshold-sweep.png`` (FID and
mean firing rate against v_th) into the swept run's folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

from sdmbench.config import RunConfig
from sdmbench.configure import configure
from sdmbench.errors import UsageError
from sdmbench.records import check_writable, write_json_atomic


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
    from sdmbench.records import read_config
    from sdmbench.runner import check_saved_state, execute

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
