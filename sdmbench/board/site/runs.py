"""What an entry page reads off each run's record: the command that
reproduces it, its per-layer firing rates, and means over seeds."""
from __future__ import annotations

import json
import shlex
from typing import Any, Dict, List, Optional

from sdmbench.energy.details import EnergyDetails

#: config fields that the command names with their own flags
FLAGS = ("model", "neuron", "dataset", "preset", "seed")


def command(record: Dict[str, Any], changes: Optional[Dict[str, Any]] = None) -> str:
    """``sdmbench run ...`` that repeats ``record``'s run: its model, neuron, dataset, preset and seed
    by flag, its model's own options and any ``changes`` (a trial's settings off its preset) by ``--set``.
    A run fine-tuned from another (``init_from``) names that run's folder, which the reader must have."""
    config = record.get("config") or {}
    parts = ["sdmbench", "run"]
    for key in FLAGS:
        value = config.get(key, record.get(key))
        if value is not None:
            parts += [f"--{key}", str(value)]
    settings = dict(config.get("options") or {})
    settings.update({k: v for k, v in (changes or {}).items() if k not in FLAGS})
    for key, value in sorted(settings.items()):
        parts += ["--set", f"{key}={_value(value)}"]
    if config.get("init_from"):
        parts += ["--init-from", str(config["init_from"])]
    return shlex.join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def firing_rates(record: Dict[str, Any]) -> Dict[str, float]:
    """Mean firing rate of each spiking layer over the sampling pass (records of the first counter are
    upgraded on loading, :func:`sdmbench.running.records.upgrade`, so theirs sit in the same place)."""
    rates = EnergyDetails.of(record).firing_rates
    return {name: float(rate) for name, rate in rates.items() if rate is not None}


def mean_of(maps: List[Dict[str, float]]) -> Dict[str, float]:
    """Per key, the mean over the maps that hold it, in the first holder's order."""
    keys: Dict[str, List[float]] = {}
    for values in maps:
        for key, value in values.items():
            keys.setdefault(key, []).append(value)
    return {key: sum(values) / len(values) for key, values in keys.items()}

