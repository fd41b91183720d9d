"""Training curves: ``train_log.csv`` in the run folder, and TensorBoard beside it.

Every ``log_every`` optimiser steps (and at a stage's last step) a training
stage appends one row to ``<run folder>/train_log.csv``::

    stage, step, loss, watched, value, smooth, lr, samples_per_second, wall_seconds, cpu_seconds

``step`` counts optimiser steps done (1-based), ``loss`` is that step's
minimised loss, ``value`` the quantity the divergence rules read (``watched``
names it: ``loss`` unless the stage returns a :class:`~sdmbench.running.training.Watched`)
and ``smooth`` its running mean ``s = 0.95 s + 0.05 value``; ``samples_per_second``
is measured over the rows' interval, ``wall_seconds`` and ``cpu_seconds``
(the process's CPU time, all threads) since the stage (or its resumed part)
began. A resumed stage keeps the rows up to the step it resumes from and
drops any written after its checkpoint, so the file has neither gaps nor
duplicate steps.

When the ``tensorboard`` package is installed the same scalars go to
TensorBoard event files under ``<run folder>/tensorboard/`` (tag
``<stage>/<column>``), with the run's config as text (``<stage>/config``)
and, every ``sample_every`` steps (0: never; the quick and paper presets set
it), an 8 x 8 grid of the stage's samples (``<stage>/samples``: the EMA
weights with the run's sampler, the same noise at every grid, so the grids
show the model change and nothing else). A log that cannot be written
(read-only folder, full disk) or a grid that cannot be sampled says so once
and training goes on: the checkpoint is what matters.
"""
from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Callable, List, Optional

import torch

LOG_FILE = "train_log.csv"
TENSORBOARD_DIR = "tensorboard"
COLUMNS = ("stage", "step", "loss", "watched", "value", "smooth", "lr", "samples_per_second",
           "wall_seconds", "cpu_seconds")
SCALARS = ("loss", "value", "smooth", "lr", "samples_per_second")


def read_log(path: Path) -> List[dict]:
    """The rows of a ``train_log.csv`` (numbers as floats, ``step`` as int); [] when absent."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        try:
            parsed = {k: (row[k] if k in ("stage", "watched") else float(row[k])) for k in COLUMNS}
        except (KeyError, TypeError, ValueError):
            continue  # a row cut short by a crash mid-write
        parsed["step"] = int(parsed["step"])
        out.append(parsed)
    return out


def tensorboard_writer(folder: Path):
    """A ``SummaryWriter`` on ``folder``, or None when the tensorboard package is absent."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))


class CurveLog:
    """The curve of one training stage, appended as it trains (see the module docstring)."""

    def __init__(self, run_dir: Path, stage: str, every: int, resume_dir: Optional[Path] = None,
                 log: Callable[[str], None] = print, config: Optional[dict] = None,
                 preview: Optional[Callable[[], "torch.Tensor"]] = None, sample_every: int = 0):
        self.path, self.stage, self.every, self.say = run_dir / LOG_FILE, stage, max(1, every), log
        self.resume_dir, self.failed, self.writer = resume_dir, False, None
        self.tb_dir, self.config = run_dir / TENSORBOARD_DIR, config
        self.preview, self.sample_every = preview, sample_every

    def start(self, first: int, batch_size: int) -> None:
        """Keep the rows before step ``first`` of this stage (and every other stage's), then log on."""
        source = self.path if self.path.is_file() else (self.resume_dir / LOG_FILE if self.resume_dir else None)
        kept = [r for r in read_log(source) if r["stage"] != self.stage or r["step"] <= first] if source else []
        self.batch_size, self.first = batch_size, first
        self._guard(lambda: self._rewrite(kept))
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.last_t, self.last_step = self.t0, first
        if not self.failed:
            self.writer = self._guard(lambda: tensorboard_writer(self.tb_dir))
        if self.writer is not None and self.config is not None and first == 0:
            text = "```\n" + json.dumps(self.config, indent=1, default=str) + "\n```"
            self._guard(lambda: self.writer.add_text(f"{self.stage}/config", text, 0))

    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total

    def row(self, step: int, loss: float, watched: str, value: float, smooth: float, lr: float) -> None:
        """Append the row of optimiser step ``step`` (1-based)."""
        now = time.perf_counter()
        rate = (step - self.last_step) * self.batch_size / (now - self.last_t) if now > self.last_t else 0.0
        self.last_t, self.last_step = now, step
        row = dict(stage=self.stage, step=step, loss=loss, watched=watched, value=value, smooth=smooth, lr=lr,
                   samples_per_second=rate, wall_seconds=now - self.t0, cpu_seconds=time.process_time() - self.c0)
        self._guard(lambda: self._append(row))
        if self.writer is not None:
            self._guard(lambda: [self.writer.add_scalar(f"{self.stage}/{k}", row[k], step) for k in SCALARS])

    def preview_at(self, step: int) -> None:
        """After optimiser step ``step``: the stage's 8 x 8 sample grid, when one is due."""
        if self.writer is None or self.preview is None or not self.sample_every or step % self.sample_every:
            return
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):  # training's random streams untouched
                images = self.preview().float().cpu()
        except Exception as exc:  # a grid is a view of the run, never a reason to lose it
            self.preview = None
            self.say(f"note: cannot sample the TensorBoard grid at step {step} ({type(exc).__name__}: {exc}); "
                     "training goes on without grids")
            return
        from torchvision.utils import make_grid  # here: the torchvision check runs before any of it is imported

        grid = make_grid((images.clamp(-1, 1) + 1) / 2, nrow=8, padding=1)
        self._guard(lambda: self.writer.add_image(f"{self.stage}/samples", grid, step))

    def close(self) -> None:
        if self.writer is not None:
            self._guard(self.writer.close)

    def _rewrite(self, rows: List[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{LOG_FILE}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows({k: r[k] for k in COLUMNS} for r in rows)
        os.replace(tmp, self.path)

    def _append(self, row: dict) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerow(row)

    def _guard(self, write: Callable):
        """Run ``write``; on an OS error say once what could not be logged, and stop logging."""
        if self.failed:
            return None
        try:
            return write()
        except OSError as exc:
            self.failed = True
            self.say(f"note: cannot write the training curve to {self.path.parent} ({exc.strerror or exc}); "
                     "training goes on without it")
            return None
