"""What one synaptic call (Conv1d/2d, ConvTranspose2d, Linear) does: exact
synaptic accumulates, MACs and outputs.

A spike map (decided by provenance, :mod:`sdmbench.energy.counter`) holds
0 and one shared positive value ``c`` (1 for plain spikes; ``c = v_th`` for
a converted IF neuron, folded into the weights). The accumulates of a convolution fed spikes are
``sum over spikes of their fan-out`` (the outputs each reaches, borders,
stride and transposition honoured, times C_out / groups). Fan-out depends
on the position only, so with ``S(p)`` the spikes at position ``p`` summed
over samples and channels, ``ACs = C_out / groups x sum_p S(p) F(p)`` =
``C_out / groups x sum(conv(S, ones))``: one reduction of the input and a
convolution of one small map (in float64: the sums stay exact).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F


def spike_counts(x: torch.Tensor, c: Optional[float] = None) -> torch.Tensor:
    """Spikes per position of the spike map ``x`` (values 0 and ``c``, found when not given), summed
    over samples and channels: ``[*spatial]`` (a Linear's input: per feature). A column sum of the
    contiguous map, exact (counts stay far below float32's 2^24)."""
    c = float(x.amax()) if c is None else c
    spatial = x.shape[-1:] if x.dim() <= 2 else x.shape[2:]
    if c <= 0:
        return torch.zeros(spatial, dtype=torch.long, device=x.device)
    sums = x.reshape(-1, spatial.numel()).sum(0, dtype=torch.float32)
    return (sums / c).round().long().reshape(spatial)


def conv_acs(module: nn.Module, per_position: torch.Tensor) -> int:
    """Exact synaptic accumulates of a convolution whose input has ``per_position`` spikes at each
    position (:func:`spike_counts`)."""
    s = per_position.double().reshape(1, 1, *per_position.shape)
    ones = torch.ones((1, 1, *module.kernel_size), dtype=s.dtype, device=s.device)
    if isinstance(module, nn.ConvTranspose2d):
        reach = F.conv_transpose2d(s, ones, stride=module.stride, padding=module.padding,
                                   output_padding=module.output_padding, dilation=module.dilation)
    else:
        conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
        reach = conv(s, ones, stride=module.stride, padding=module.padding, dilation=module.dilation)
    return int(round(float(reach.sum()))) * (module.out_channels // module.groups)


def outputs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """The outputs a synaptic call computes: per input sample, so that a convolution run once
    and repeated over T steps (``[B, ...] -> [T, B, ...]``) counts one run."""
    if isinstance(module, nn.Linear):
        return y.numel()
    return x.shape[0] * y.shape[-(len(module.kernel_size) + 1):].numel()  # samples x C_out x spatial


def dense_macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """MACs of a dense call: outputs x (C_in / groups x kernel area) (Linear: outputs x
    in_features); a transposed convolution's are inputs x (C_out / groups x kernel area)."""
    if isinstance(module, nn.Linear):
        return y.numel() * module.in_features
    k = 1
    for s in module.kernel_size:
        k *= s
    if isinstance(module, nn.ConvTranspose2d):
        return x.numel() * (module.out_channels // module.groups) * k
    return outputs(module, x, y) * (module.in_channels // module.groups) * k
