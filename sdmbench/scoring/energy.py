"""Energy of a real forward pass, counted by forward hooks.

For every Conv1d/2d, ConvTranspose2d and Linear call:

- input spikes, every element 0 or one shared value ``c`` (0/1 spikes, or
  the spikes ``c = v_th`` of a converted IF neuron, whose ``c`` folds into the
  weights): synaptic operations, ``SOPs = sum over input spikes of their
  fan-out`` (the outputs each spike reaches, borders and stride included),
  computed exactly by convolving the spike map with a kernel of ones; energy
  ``E_AC = 0.9 pJ`` each.
- any other input: multiply-accumulates, ``MACs = outputs x (C_in/groups x
  kernel area)`` (Linear: ``outputs x in_features``); ``E_MAC = 4.6 pJ`` each.

``E = 4.6 pJ x MACs + 0.9 pJ x SOPs`` (45 nm, Horowitz 2014). Normalisation
layers and neuron/activation updates are counted as elementwise operations,
listed separately and not priced. Each neuron module's firing rate (the
fraction of its outputs that are spikes, i.e. nonzero) is recorded.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List

import torch
from torch import nn
from torch.nn import functional as F

from sdmbench.neuron import Swish, is_neuron

E_MAC = 4.6e-12  # joules per multiply-accumulate
E_AC = 0.9e-12  # joules per accumulate (synaptic operation)

_SYNAPTIC = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)
_ACT = (nn.SiLU, nn.ReLU, nn.GELU, Swish)


@dataclass
class LayerCount:
    kind: str
    calls: int = 0
    macs: int = 0
    sops: int = 0
    input_spikes: int = 0
    input_elements: int = 0
    elementwise: int = 0


def is_spike_train(x: torch.Tensor) -> bool:
    """True when every element of ``x`` is 0 or one shared value (1 for plain spikes)."""
    nonzero = x[x != 0]
    return nonzero.numel() == 0 or bool((nonzero == nonzero[0]).all())


def conv_sops(module: nn.Module, x: torch.Tensor) -> int:
    """Exact synaptic operations of a convolution fed the 0/1 map ``x``."""
    groups = module.groups
    out_per_group = module.out_channels // groups
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    per_group = x.reshape(n, groups, c // groups, *spatial).sum(2).reshape(n * groups, 1, *spatial)
    ones = torch.ones((1, 1, *module.kernel_size), dtype=x.dtype, device=x.device)
    if isinstance(module, nn.ConvTranspose2d):
        reach = F.conv_transpose2d(per_group, ones, stride=module.stride, padding=module.padding,
                                   output_padding=module.output_padding, dilation=module.dilation)
    else:
        conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
        reach = conv(per_group, ones, stride=module.stride, padding=module.padding, dilation=module.dilation)
    return int(round(float(reach.double().sum()))) * out_per_group


def dense_macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(module, nn.Linear):
        return y.numel() * module.in_features
    if isinstance(module, nn.ConvTranspose2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return x.numel() * (module.out_channels // module.groups) * k
    k = 1
    for s in module.kernel_size:
        k *= s
    return y.numel() * (module.in_channels // module.groups) * k


@dataclass
class EnergyReport:
    macs: int
    sops: int
    elementwise: int
    energy_j: float
    layers: Dict[str, Dict[str, float]]
    firing_rates: Dict[str, float]

    def as_dict(self) -> dict:
        return {"macs": self.macs, "sops": self.sops, "elementwise_ops": self.elementwise,
                "energy_j": self.energy_j, "e_mac_pj": E_MAC * 1e12, "e_ac_pj": E_AC * 1e12,
                "layers": self.layers, "firing_rates": self.firing_rates}


class EnergyCounter:
    """``with EnergyCounter(model) as counter: model(...)``; then ``counter.report()``."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.layers: "OrderedDict[str, LayerCount]" = OrderedDict()
        self.spikes: Dict[str, List[float]] = {}
        self._handles: list = []

    def __enter__(self) -> "EnergyCounter":
        for name, module in self.model.named_modules():
            if isinstance(module, _SYNAPTIC):
                self._handles.append(module.register_forward_hook(self._synaptic_hook(name)))
            elif isinstance(module, _NORM) or isinstance(module, _ACT) or is_neuron(module):
                self._handles.append(module.register_forward_hook(self._elementwise_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _synaptic_hook(self, name: str):
        def hook(module, inputs, output):
            x = inputs[0]
            count = self.layers.setdefault(name, LayerCount(type(module).__name__))
            count.calls += 1
            count.input_elements += x.numel()
            if is_spike_train(x):
                spikes = (x != 0).to(x.dtype)
                count.sops += conv_sops(module, spikes) if not isinstance(module, nn.Linear) \
                    else int(spikes.sum()) * module.out_features
                count.input_spikes += int(spikes.sum())
            else:
                count.macs += dense_macs(module, x, output)
        return hook

    def _elementwise_hook(self, name: str):
        def hook(module, inputs, output):
            count = self.layers.setdefault(name, LayerCount(type(module).__name__))
            count.calls += 1
            count.elementwise += output.numel()
            if is_neuron(module):
                total = self.spikes.setdefault(name, [0.0, 0.0])
                total[0] += float((output != 0).sum())
                total[1] += output.numel()
        return hook

    def absorb(self, layers: Dict[str, LayerCount], spikes: Dict[str, List[float]]) -> None:
        """Add another counter's counts (another rank's batch of the same model)."""
        for name, other in layers.items():
            mine = self.layers.setdefault(name, LayerCount(other.kind))
            for field in ("calls", "macs", "sops", "input_spikes", "input_elements", "elementwise"):
                setattr(mine, field, getattr(mine, field) + getattr(other, field))
        for name, (fired, total) in spikes.items():
            mine = self.spikes.setdefault(name, [0.0, 0.0])
            mine[0] += fired
            mine[1] += total

    def report(self) -> EnergyReport:
        macs = sum(c.macs for c in self.layers.values())
        sops = sum(c.sops for c in self.layers.values())
        layers = {}
        for name, c in self.layers.items():
            entry = {"type": c.kind, "calls": c.calls}
            if c.macs or c.sops or c.input_elements:
                entry.update(macs=c.macs, sops=c.sops,
                             input_rate=(c.input_spikes / c.input_elements) if c.sops else None)
            else:
                entry.update(elementwise_ops=c.elementwise)
            layers[name] = entry
        rates = {name: s / n for name, (s, n) in self.spikes.items() if n}
        return EnergyReport(macs=macs, sops=sops, elementwise=sum(c.elementwise for c in self.layers.values()),
                            energy_j=E_MAC * macs + E_AC * sops, layers=layers, firing_rates=rates)
