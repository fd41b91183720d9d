"""The run folder and its record: the one module that reads and writes them.

A run folder holds ``config.json`` (written when the run starts), ``run.pid``
while it runs (an ``.incomplete`` folder), and ``record.json`` once it is
scored; ``sdmbench run``, ``score`` (rescore, recount), ``verify``,
``publish``, ``runs``, the API and the leaderboard read and write them
through :func:`read_config`, :func:`read_record`, :func:`write_record` and
:func:`load_records`, never with their own ``json`` calls.

Records: one JSON file per run, written atomically.

A record carries everything needed to compare it without the run (schema
version 2, :func:`make_record`): run id, model, neuron, dataset, T, the full
config, the protocol and its key, ``metrics`` (every metric's scalar values,
one flat mapping), ``details`` (each metric's details under its name: energy
counts per layer, firing rates, ...), the config its preset makes
(``preset``: what tells a ranked entry from a trial where the run's plugins
are not installed), training figures per stage, wall times, git commit,
package versions and hardware. Version 1 records (energy and firing rates at
the top level) are read and upgraded in memory.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import socket
import subprocess
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

from sdmbench.energy.details import NAME as ENERGY
from sdmbench.errors import UsageError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RECORD_FILE = "record.json"
CONFIG_FILE = "config.json"
PID_FILE = "run.pid"  #: in an .incomplete folder: the process and host that write it
PACKAGES = ("sdmbench", "torch", "torchvision", "norse", "torch-fidelity", "clean-fid", "numpy")


def write_json_atomic(path: Path, data: Dict[str, Any]) -> None:
    """``data`` as strict JSON (NaN and infinities refused), via a temporary file renamed over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def stamp() -> Dict[str, Any]:
    """When and by which commit a record (or a part added to it later) was made."""
    return {"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "git_commit": git_commit()}


def write_config(folder: Path, config: Dict[str, Any]) -> None:
    """A run's config into ``folder/config.json`` (atomically), before it trains."""
    write_json_atomic(folder / CONFIG_FILE, config)


def write_record(folder: Path, record: Dict[str, Any]) -> Dict[str, Any]:
    """``record`` (NaN and infinities as None) atomically into ``folder/record.json``; returns what was written."""
    record = finite(record)
    write_json_atomic(folder / RECORD_FILE, record)
    return record


def read_run_file(run_dir: Path, name: str, flag: str) -> Dict[str, Any]:
    """A JSON file of a run folder; a one-line error (naming the command ``flag``) when it is missing or
    unreadable."""
    path = run_dir / name
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{flag} {run_dir}: no {name} there; pass a run folder made by sdmbench run") \
            from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{flag} {run_dir}: unreadable {name} ({exc})") from None


def read_config(run_dir: Path, flag: str = "--resume") -> Dict[str, Any]:
    """The config a run folder was made with (for ``--resume`` / ``--init-from`` / ``score``)."""
    return read_run_file(run_dir, CONFIG_FILE, flag)


def read_record(run_dir: Path, flag: str) -> Dict[str, Any]:
    """A run folder's record, upgraded to this schema and checked; a one-line error otherwise."""
    record = read_run_file(run_dir, RECORD_FILE, flag)
    if not isinstance(record, dict) or record.get("schema_version") not in READABLE_VERSIONS:
        version = record.get("schema_version") if isinstance(record, dict) else None
        raise UsageError(f"{flag} {run_dir}: record schema {version} is not one of {READABLE_VERSIONS}; "
                         "upgrade sdmbench")
    record = upgrade(record)
    problem = schema_problem(record)
    if problem:
        raise UsageError(f"{flag}: {run_dir / RECORD_FILE}: {problem}; it was not written by sdmbench, or was edited")
    return record


def prepare_results_dir(config, run_id: str) -> Path:
    """A new run's ``<results dir>/<run id>.incomplete`` folder, with its ``run.pid``; a one-line error
    when the results folder cannot be written."""
    root = Path(config.results_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f"{run_id}.incomplete"
        tmp.mkdir()
        (tmp / PID_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")  # 'sdmbench runs': running
    except OSError as exc:
        raise UsageError(f"results directory '{root}' is not writable ({exc.strerror}); "
                         "pass --results-dir DIR or set SDMBENCH_RESULTS") from None
    return tmp


def check_writable(folder: Path, what: str) -> None:
    """Make ``folder`` if needed and write a probe into it; a folder that cannot be written is a one-line
    :class:`UsageError` naming ``what`` would have been written, before any work."""
    probe = folder / f".sdmbench-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write {what} into {folder} ({exc.strerror or exc}); choose a writable folder") \
            from None


def make_run_id(config) -> str:
    """``<model>[-<neuron>]-<dataset>-<preset>-<time>-<random>``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [config.model] + ([config.neuron] if config.spiking else []) + [config.dataset, config.preset, stamp]
    return "-".join(parts + [uuid.uuid4().hex[:6]])


def _summary(training: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The last trained stage's figures (what the leaderboard shows)."""
    steps = sum(s.get("steps", 0) for s in training.values())
    last = [s for s in training.values() if "final_loss" in s]
    return {"steps": steps, "final_loss": last[-1]["final_loss"] if last else None}


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity inside it as None (records are strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def make_record(run, pipeline, protocol: Dict[str, Any], scores: Dict[str, Any],
                training: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The record of a finished run (the schema, version 2)."""
    from sdmbench.hardware import distributed
    from sdmbench.running.configure import preset_config
    from sdmbench.running.pipeline import TRAIN_THRESHOLD
    from sdmbench.scoring.protocol import protocol_key
    from sdmbench.scoring.metric import Scores

    c, world = run.config, distributed.world()
    metrics = Scores.flat(scores)  # NaN and infinities become None with the rest of the record
    return finite({
        "schema_version": SCHEMA_VERSION, "run_id": run.run_id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": c.model, "neuron": c.neuron, "dataset": protocol["dataset"],
        "T": pipeline.ctx.T, "threshold": c.threshold, "train_threshold": TRAIN_THRESHOLD,
        "parameters": pipeline.parameters(), "config": c.to_dict(),
        "preset": preset_config(run.plugins, c.model, c.neuron, c.dataset, c.preset, c.options),
        "protocol": protocol, "protocol_key": protocol_key(protocol),
        "metrics": metrics, "details": {name: result.details for name, result in scores.items() if result.details},
        "training": _summary(training), "stages": training,
        "diverged": any(bool(stage.get("diverged")) for stage in training.values()),
        "resumed_from": str(run.resume) if run.resume else None,
        "distributed": {"world_size": world.size, "backend": world.backend or None,
                        "global_batch_size": c.batch_size, "per_rank_batch_size": c.batch_size // world.size,
                        "lr": c.lr, "sync_batchnorm": bool(c.sync_bn and world.enabled)},
        "wall_times": run.times, "cpu_times": run.cpu_times,
        "data_source": pipeline.ctx.data.source, "data_hash": pipeline.ctx.data.content_hash,
        "git_commit": git_commit(), "packages": package_versions(), "hardware": hardware(run.device),
        "files": {"samples": "samples.png", "samples_array": "samples.npz", "config": CONFIG_FILE,
                  **{f"stage_{s}": f"stage-{s}.pt" for s in pipeline.stages}},
    })


def upgrade(record: Dict[str, Any]) -> Dict[str, Any]:
    """A version 1 record in the version 2 layout (energy details under ``details``)."""
    if record.get("schema_version") != 1:
        return record
    record = dict(record)
    energy, rates = record.pop("energy", None), record.pop("firing_rates", None)
    record["details"] = {ENERGY: {**energy, "firing_rates": rates or {}}} if energy else {}
    record["schema_version"] = SCHEMA_VERSION
    return record


#: the record fields every reader relies on, and their JSON types
SCHEMA = {"run_id": str, "model": str, "dataset": str, "config": dict, "protocol": dict, "metrics": dict,
          "training": dict, "parameters": (int, float), "T": int}


def schema_problem(record: Any) -> str | None:
    """What is wrong with a record's layout (a field missing or of the wrong type), or None."""
    if not isinstance(record, dict):
        return f"holds {type(record).__name__}, not a record"
    for name, kind in SCHEMA.items():
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
            return f"field '{name}' is {type(record.get(name)).__name__}, not {getattr(kind, '__name__', 'a number')}"
    for key, value in record["metrics"].items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"field 'metrics.{key}' is {type(value).__name__}, not a number"
    if not isinstance(record.get("rescores", []), list):
        return "field 'rescores' is not a list"
    if not isinstance(record.get("preset", {}), (dict, type(None))):  # None: its model refused its preset
        return f"field 'preset' is {type(record['preset']).__name__}, not a config"
    return None


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> Dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hardware(device: torch.device) -> Dict[str, Any]:
    """Where the run ran. ``cpu_capability`` is the vector instruction set torch's CPU kernels use
    (``AVX2``, ``AVX512``...): it decides bf16's speed; scores through the pinned extractors do not
    depend on it (tests/test_scoring_portability.py), and each scoring records it all the same."""
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def load_records(results_dir: Path) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Every readable record under ``results_dir`` (one level of run folders),
    and a list of problems with the unreadable ones."""
    records, problems = [], []
    if not results_dir.is_dir():
        return records, problems
    for path in sorted(results_dir.glob(f"*/{RECORD_FILE}")):
        try:
            record = json.loads(path.read_text())
            if record.get("schema_version") not in READABLE_VERSIONS:
                problems.append(f"{path}: schema version {record.get('schema_version')} is not one of "
                                f"{READABLE_VERSIONS}")
                continue
            record = upgrade(record)
            problem = schema_problem(record)
            if problem:
                problems.append(f"{path}: {problem}")
                continue
            records.append(record)
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: {exc}")
    return records, problems
