"""The ``qcfs`` converter: quantised clipped ReLUs -> IF neurons (Bu et al. 2022).

Contract of a converter (registry kind ``converter``):
``factory(ann, T, **options) -> nn.Module``, a new network (``ann`` is left
untouched) with the ANN's ``forward(x_t, t)``, simulated for ``T`` steps.

``qcfs`` deep-copies the ANN and

- replaces every :class:`~.layers.QuantClipReLU` with a
  :class:`~.rate_if.RateIF`: threshold = the learned clip alpha, membrane
  initialised at alpha / 2, reset by subtraction, output alpha * spike;
- sets ``time_steps = T`` on every module that has the attribute (the
  network itself, so that it repeats its real-valued currents over T and
  reads out the mean over T, and the :class:`~.layers.TimeGroupNorm` s).

The network must be written for it: a ``time_steps`` attribute on the top
module and nothing between activations but layers that are linear per time
step (convolutions, additions, concatenations, nearest up-sampling) or
TimeGroupNorm. Everything else is the ANN's own weights, unchanged.
"""
from __future__ import annotations

import copy

from torch import nn

from .layers import QuantClipReLU
from .rate_if import RateIF


def convert_qcfs(ann: nn.Module, T: int, v_init: float = 0.5) -> nn.Module:
    if int(T) < 1:
        raise ValueError(f"T must be at least 1 time step, got {T}")
    if not hasattr(ann, "time_steps"):
        raise ValueError(f"{type(ann).__name__} has no time_steps attribute: the qcfs converter needs a network "
                         "that can run on time-folded batches (e.g. backbone qcfs-unet)")
    snn = copy.deepcopy(ann)
    replaced = 0
    for parent in list(snn.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, QuantClipReLU):
                setattr(parent, name, RateIF(T, child.alpha.detach().clamp(min=1e-3), v_init=v_init)
                        .to(child.alpha.device))
                replaced += 1
    if not replaced:
        raise ValueError(f"{type(ann).__name__} has no quantised clipped ReLU (QuantClipReLU) to convert")
    for module in snn.modules():
        if hasattr(module, "time_steps"):
            module.time_steps = int(T)
    return snn.train(ann.training)
