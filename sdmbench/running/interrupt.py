"""Ctrl-C and SIGTERM during training keep the work.

While a training stage runs inside :func:`deferred`, the first SIGINT or
SIGTERM only sets a flag; the stage finishes the optimiser step it is in
(so the weights, optimiser moments, EMA and random generators are those of
a step boundary), saves a checkpoint at that step, and raises
:class:`Interrupted`; the command line prints the one command that resumes
it and exits with status 130. A resumed run equals an uninterrupted one.
A second signal exits at once (KeyboardInterrupt), keeping the last
checkpoint. Under torchrun every rank learns of a signal any rank got (the
flag joins the per-step loss all-reduce), so the ranks stop together and
rank 0 writes the checkpoint; Slurm's SIGTERM before a preemption is the
same case.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"signal": None, "count": 0}


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint at ``step`` into ``folder``."""

    def __init__(self, step: int, folder: Optional[Path], signum: int):
        self.step, self.folder, self.signum = step, folder, signum
        name = signal.Signals(signum).name
        where = f"; continue with: sdmbench run --resume {folder}" if folder else ""
        super().__init__(f"{name} at step {step}: saved a checkpoint at that step{where}")


def _handler(signum, frame) -> None:
    _state["count"] += 1
    if _state["count"] > 1:
        raise KeyboardInterrupt  # the second signal: stop now
    _state["signal"] = signum


def requested() -> Optional[int]:
    """The signal that asked training to stop, or None."""
    return _state["signal"]


@contextlib.contextmanager
def deferred():
    """Within: SIGINT / SIGTERM ask training to stop at the next step boundary (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _state.update(signal=None, count=0)
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _state.update(signal=None, count=0)
