"""Run records: one JSON file per run, written atomically.

A record carries everything needed to compare it without the run:
schema version, run id, full config, protocol, metrics, energy, firing rates,
wall times, git commit, package versions and hardware.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PACKAGES = ("sdmbench", "torch", "torchvision", "norse", "torch-fidelity", "clean-fid", "numpy")


def write_json_atomic(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device)}
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
            if record.get("schema_version") != SCHEMA_VERSION:
                problems.append(f"{path}: schema version {record.get('schema_version')} is not {SCHEMA_VERSION}")
                continue
            records.append(record)
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: {exc}")
    return records, problems
