"""Mid-stage checkpoints: stop anywhere, resume exactly.

Every ``checkpoint_every`` optimiser steps a training stage writes
``checkpoint-<stage>.pt`` into the run folder (atomically: a temporary file
renamed over the old one). It holds everything the rest of the stage
depends on::

    step, the modules' state dicts (model, EMA, ...), the optimiser state,
    the run's data/noise generator state, torch's global RNG state (and
    CUDA's), the smoothed loss shown in the progress bar

so that ``sdmbench run --resume RUN_DIR`` continues with the same batches,
noise and optimiser moments as an uninterrupted run: on CPU with a fixed
seed the final weights are identical. Files load with ``weights_only=True``.
Under torchrun rank 0 writes the file and every rank loads it.
When the stage finishes, ``stage-<stage>.pt`` replaces the checkpoint.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Dict, Optional

import torch
from torch import nn

from sdmbench.hardware import distributed
from sdmbench.errors import UsageError


class StepCheckpoint:
    def __init__(self, path: Path, every: int, modules: Dict[str, nn.Module], generator: torch.Generator,
                 resume_from: Optional[Path] = None, curve=None):
        self.path, self.every, self.modules, self.generator = path, every, modules, generator
        self.resume_from = resume_from
        self.curve = curve  #: the stage's :class:`sdmbench.running.curves.CurveLog`, written beside the checkpoint
        self.saved_step: Optional[int] = None

    def due(self, step: int, total: int) -> bool:
        """Save after ``step`` optimiser steps (not after the last: the stage file follows)?"""
        return self.every > 0 and step % self.every == 0 and step < total

    def save(self, step: int, optimizer: torch.optim.Optimizer, smooth: Optional[float]) -> None:
        """Write the checkpoint (under torchrun: rank 0 writes, every rank notes the step)."""
        previous = self.saved_step
        if not distributed.world().main:
            self.saved_step = step
            return
        state = {
            "step": step,
            "modules": {name: m.state_dict() for name, m in self.modules.items()},
            "optimizer": optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "smooth": smooth,
        }
        save_state(state, self.path, kept=f"the previous checkpoint (step {previous})" if previous else "")
        self.saved_step = step

    def restore(self, optimizer: torch.optim.Optimizer) -> tuple[int, Optional[float]]:
        """Load ``resume_from`` if there is one: ``(steps already done, smoothed loss)``."""
        if self.resume_from is None or not self.resume_from.is_file():
            return 0, None
        state = load_state(self.resume_from, "cpu", "--resume")
        try:
            for name, module in self.modules.items():
                module.load_state_dict(state["modules"][name])
            optimizer.load_state_dict(state["optimizer"])
        except Exception as exc:
            raise UsageError(f"cannot resume from {self.resume_from}: {str(exc).splitlines()[0]}; "
                             "start a new run instead") from None
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.saved_step = state["step"]
        return state["step"], state["smooth"]

    def finish(self) -> None:
        """The stage is done and saved whole: drop the mid-stage file."""
        self.path.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    """torch's message in a few words, without its advice to turn the weights-only loading off (never)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()
        return "it asks for more than tensors: " + (detail[0].split(". ")[0] if detail else "?")
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.split(". ")[0][:160]


def save_state(state: dict, path: Path, kept: str = "") -> None:
    """``torch.save`` to a temporary file renamed over ``path``: a failed write
    (a full disk) leaves the old file whole and is a one-line :class:`UsageError`."""
    tmp = path.with_name(path.name + ".partial")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        keep = f"; {kept} is kept" if kept else ""
        raise UsageError(f"could not write {path} ({reason}){keep}: free disk space, then continue with "
                         f"--resume {path.parent}") from None


def load_state(path: Path, device: torch.device | str = "cpu", flag: str = "--resume") -> dict:
    """A saved stage or checkpoint file, read with ``weights_only=True`` (no code
    runs); a missing, foreign or corrupt file is a one-line :class:`UsageError`."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"{flag}: no {path.name} in {path.parent}; pass a finished run folder") from None
    except Exception as exc:  # corrupt files, or pickles that need code (never run)
        raise UsageError(f"{flag}: cannot read {path} as sdmbench weights ({_reason(exc)}); it is corrupt or "
                         "was not written by sdmbench, and nothing in it was run") from None
    if not isinstance(state, dict):
        raise UsageError(f"{flag}: {path} holds {type(state).__name__}, not sdmbench weights")
    return state
