"""RunConfig: everything one run needs, typed, complete and serialisable.

Built in one direction: defaults < the model's preset < command-line flags
(only flags the user gave). :func:`resolve` validates the result, so every
impossible setting fails before any work starts. This module knows no
plugin: the names a run leaves open (model, neuron, sampler, extractor,
metrics) stay ``None`` here and are filled from the registries by
:func:`sdmbench.running.configure.configure`, the one place a run's config is built.

A model's own settings (``ModelRecipe.options``, e.g. a conversion model's
activation bits) live in ``options``; ``--set NAME=VALUE`` reaches them by
their plain name. Every other plugin's settings live in its kind's
namespace, passed to it as they are: ``--set neuron.tau=2.0``
(``neuron_params``), ``--set backbone.ch=64``, ``--set
process.temperature=0.9``, ``--set extractor.weights=PATH``
(``extractor_options``). The settings that lived in the core before
(``temperature``, ``inception_weights``) are aliases of their namespaced
names for one release (:data:`MOVED`).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from sdmbench.errors import UsageError
from sdmbench.hardware.precision import PRECISIONS

LR_SCHEDULES = ("constant", "cosine")
MAX_T = 1024  # more time steps than any spiking generator simulates; beyond it sizes overflow


@dataclass
class RunConfig:
    model: Optional[str] = None  # None: the registry's default model
    neuron: Optional[str] = None  # spiking models: the preset's, else the registry's default neuron
    dataset: Optional[str] = None
    split: str = "train"
    preset: str = "smoke"
    T: int = 4
    threshold: float = 1.0
    neuron_params: Dict[str, Any] = field(default_factory=dict)  # the neuron's own settings (--set neuron.NAME=)
    image_size: Optional[int] = None  # None: the dataset's own size
    backbone: Dict[str, Any] = field(default_factory=dict)
    process: Dict[str, Any] = field(default_factory=dict)  # the process's own settings (--set process.NAME=)
    stages: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # per-stage overrides of the fields below
    train_steps: int = 100
    batch_size: int = 32
    lr: float = 2e-4
    lr_schedule: str = "constant"  # constant, or cosine: lr * (1 + cos(pi * step / train_steps)) / 2
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    divergence_factor: float = 100.0  # stop when the loss's running mean exceeds this x its lowest (0: never)
    precision: str = "fp32"  # fp32, or bf16: mixed precision forward passes (sdmbench.hardware.precision)
    ema_decay: float = 0.999
    bn_batches: int = 20  # training batches that recompute the EMA model's BatchNorm statistics
    checkpoint_every: int = 100  # optimiser steps between mid-stage checkpoints (0: none)
    log_every: int = 10  # optimiser steps between rows of the training curve (train_log.csv, TensorBoard)
    sample_every: int = 0  # optimiser steps between 8x8 sample grids in TensorBoard (0: none; presets set it)
    init_from: Optional[str] = None  # a finished run whose weights this run fine-tunes (TSM)
    options: Dict[str, Any] = field(default_factory=dict)  # the model's own settings (ModelRecipe.options)
    sync_bn: bool = True  # under torchrun: BatchNorm statistics over all ranks' batches
    sampler: Optional[str] = None  # None: the process's default sampler
    sample_steps: int = 10
    num_samples: int = 64
    sample_batch_size: int = 64
    extractor: Optional[str] = None  # None: the registry's default feature extractor
    metrics: Optional[List[str]] = None  # None: every metric registered as a default
    extractor_options: Dict[str, Any] = field(default_factory=dict)  # the extractor's (--set extractor.NAME=)
    reference_images: int = 10000
    seed: int = 0
    device: str = "auto"
    data_root: Optional[str] = None
    results_dir: Optional[str] = None
    threads: Optional[int] = None
    study: Optional[str] = None  # the named study a run belongs to (a sweep file's ``study``); not a setting

    @property
    def spiking(self) -> bool:
        """Whether the model has spiking neurons. ``configure`` decides it once, from the model's recipe:
        a spiking model gets a neuron (the preset's or the registry's default), an ANN none."""
        return self.neuron is not None

    @property
    def time_steps(self) -> int:
        """The time steps the network simulates: ``T`` for a spiking model, 1 for an ANN (whose ``T``
        setting, a preset's, does not apply)."""
        return self.T if self.spiking else 1

    def for_stage(self, stage: str) -> "RunConfig":
        """This config with the overrides of one training stage applied."""
        return dataclasses.replace(self, **self.stages.get(stage, {}))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "RunConfig":
        """A config from its dict; settings that moved to a plugin's namespace go there (:func:`moved`;
        a saved one at its old default is dropped: it was the plugin's default, or unused); other keys it
        does not know (a model's own settings saved at the top level by sdmbench < 0.2) go to ``options``."""
        names = {f.name for f in dataclasses.fields(cls)}
        data = moved(data, saved=True)
        known = {k: v for k, v in data.items() if k in names}
        legacy = {k: v for k, v in data.items() if k not in names and v is not None}
        if legacy:
            known["options"] = {**legacy, **(known.get("options") or {})}
        return cls(**known)


#: settings that moved from the core to a plugin's namespace: old name -> (namespace field, name there,
#: the old default, which a saved config drops)
MOVED = {"temperature": ("process", "temperature", 1.0),
         "inception_weights": ("extractor_options", "weights", None)}
#: ``--set KIND.NAME=VALUE`` namespaces whose field is not the kind's name
NAMESPACES = {"neuron": "neuron_params", "extractor": "extractor_options"}


def moved(source: Dict[str, Any], saved: bool = False) -> Dict[str, Any]:
    """``source`` with the old names of :data:`MOVED` and the ``KIND.NAME`` groups of :data:`NAMESPACES`
    in their namespace fields (a copy). ``saved``: a config written by an earlier release, whose old
    settings at their old default are dropped."""
    out = dict(source)
    for kind, where in NAMESPACES.items():
        if isinstance(out.get(kind), dict):
            out[where] = {**(out.get(where) or {}), **out.pop(kind)}
    for old, (where, name, default) in MOVED.items():
        if old in out:
            value = out.pop(old)
            if not (saved and value == default):
                out[where] = {**(out.get(where) or {}), name: value}
    return out


def results_dir(flag: Optional[str]) -> str:
    """``--results-dir``, else ``$SDMBENCH_RESULTS``, else ``./results``."""
    return flag or os.environ.get("SDMBENCH_RESULTS") or "results"


def parse_settings(items: list) -> Dict[str, Any]:
    """``["backbone.autoencoder.num_codes=64", "lr=1e-3"]`` -> nested overrides.

    Values are read as JSON (numbers, true/false, lists), else kept as text."""
    out: Dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE (dotted keys reach nested settings), got '{item}'")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(f"--set {item}: '{part}' is not a group of settings")
        node[leaf] = value
    return out


def merge(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    """``base`` with ``extra`` laid over it; groups of settings (dicts) merge key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve(preset: Dict[str, Any], overrides: Dict[str, Any], settings: Dict[str, Any] | None = None,
            options: Dict[str, Any] | None = None) -> RunConfig:
    """Merge a preset, the user's flags and ``--set`` settings into a validated config.

    ``options``: the model's own settings and their defaults; a key of the
    preset, the flags or ``--set`` that names one of them lands in
    ``config.options``, typed like its default."""
    defaults, options = RunConfig().to_dict(), dict(options or {})
    merged = dict(defaults, options=dict(options))
    given = {k: v for k, v in overrides.items() if v is not None}
    for source, where in ((preset, ""), (given, ""), (settings or {}, " in --set")):
        merged = merge(merged, _lift_options(moved(copy.deepcopy(source)), defaults, options, where))
    for key in given:  # a flag the user gave beats the preset's per-stage value too
        for stage in merged["stages"].values():
            stage.pop(key, None)
    for key, default in defaults.items():  # settings given as text (--set) must still have the right type
        merged[key] = _typed(key, merged[key], default)
    for key, default in options.items():
        merged["options"][key] = _typed(key, merged["options"][key], default)
    config = RunConfig.from_dict(merged)
    config.results_dir = results_dir(config.results_dir)
    validate(config)
    return config


def _lift_options(source: Dict[str, Any], defaults: Dict[str, Any], options: Dict[str, Any],
                  where: str) -> Dict[str, Any]:
    """``source`` with the model's own settings moved under ``options``; unknown keys are an error."""
    lifted = {key: source.pop(key) for key in list(source) if key in options and key not in defaults}
    unknown = [key for key in source if key not in defaults]
    if unknown:
        own = f"; this model's own settings: {', '.join(sorted(options))}" if options else ""
        raise UsageError(f"unknown setting '{unknown[0]}'{where}; settings: {', '.join(sorted(defaults))}{own}")
    if lifted:
        source["options"] = {**(source.get("options") or {}), **lifted}
    return source


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default`` (numbers given as text by --set)."""
    if isinstance(default, bool) or value is None or default is None:
        return value
    if isinstance(default, (int, float)) and not isinstance(value, bool):
        try:
            return type(default)(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"setting '{key}' must be a number, got {value!r}") from None
    if isinstance(default, dict) and not isinstance(value, dict):
        raise UsageError(f"setting '{key}' is a group of settings; set its members as {key}.NAME=VALUE")
    return value


def validate(c: RunConfig) -> None:
    floats = [f.name for f in dataclasses.fields(RunConfig) if isinstance(getattr(c, f.name), float)]
    for name in floats:
        if not math.isfinite(getattr(c, name)):
            raise UsageError(f"setting '{name}' must be a finite number, got {getattr(c, name)}")
    checks = [
        (c.T >= 1, f"--T must be at least 1 spiking time step, got {c.T}"),
        (c.T <= MAX_T, f"--T must be at most {MAX_T} spiking time steps, got {c.T}"),
        (0 <= c.ema_decay < 1, f"ema_decay must be in [0, 1), got {c.ema_decay}"),
        (c.divergence_factor == 0 or c.divergence_factor > 1,
         f"divergence_factor must be 0 (off) or above 1, got {c.divergence_factor}"),
        (c.threshold > 0, f"--threshold must be positive, got {c.threshold}"),
        (c.train_steps >= 0, f"training steps must be >= 0, got {c.train_steps}"),
        (c.batch_size >= 1, f"batch size must be >= 1, got {c.batch_size}"),
        (c.sample_steps >= 1, f"--sample-steps must be at least 1, got {c.sample_steps}"),
        (c.num_samples >= 2, f"--num-samples must be at least 2 for a FID, got {c.num_samples}"),
        (c.sample_batch_size >= 1, f"sample batch size must be >= 1, got {c.sample_batch_size}"),
        (c.device in ("auto", "cpu", "cuda") or c.device.startswith("cuda:"),
         f"--device must be auto, cpu or cuda, got '{c.device}'"),
        (c.image_size is None or c.image_size >= 4, f"image size must be >= 4, got {c.image_size}"),
        (c.lr > 0, f"learning rate must be positive, got {c.lr}"),
        (c.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                                        f"got '{c.lr_schedule}'"),
        (c.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got '{c.precision}'"),
        (c.checkpoint_every >= 0, f"checkpoint_every must be >= 0 steps, got {c.checkpoint_every}"),
        (c.log_every >= 1, f"log_every must be at least 1 step, got {c.log_every}"),
        (c.sample_every >= 0, f"sample_every must be >= 0 steps (0: no sample grids), got {c.sample_every}"),
    ]
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    for stage, overrides in c.stages.items():
        unknown = set(overrides) - fields
        checks.append((not unknown, f"stage '{stage}' overrides unknown settings: {', '.join(sorted(unknown))}"))
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
