"""SDID: the spiking denoiser of Spiking-Diffusion over the latent token grid.

Input: the token map (mask token = K) and the timestep as two channels,
scaled to [0, 1] (``token / K`` and ``t / N``; the released code feeds raw
ids and steps), repeated over T steps. Five conv3x3-BN-neuron layers
(2->64->128->256->512->256 by default), layer 5 concatenated with layer 1,
a conv3x3 to K logits per step, averaged over T::

    logits = mean_t conv(cat(h5[t], h1[t]))
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sdmbench.plugin_api.neuron import Swish, fold, unfold

from .vqsvae import SpikingConv


class SDID(nn.Module):
    def __init__(self, neuron=None, *, T: int = 16, num_codes: int = 128, num_tokens: int = 49,
                 widths: Sequence[int] = (64, 128, 256, 512, 256), **_ignored):
        super().__init__()
        if neuron is None:
            neuron, T = Swish, 1
        self.T, self.num_codes, self.num_tokens = T, num_codes, num_tokens
        chans = [2, *widths]
        self.layers = nn.ModuleList(SpikingConv(nn.Conv2d(a, b, 3, padding=1), neuron)
                                    for a, b in zip(chans[:-1], chans[1:]))
        self.out = nn.Conv2d(widths[-1] + widths[0], num_codes, 3, padding=1)

    def forward(self, tokens: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``tokens: [B, h, w]`` (long, K = mask), ``t: [B]`` -> logits ``[B, K, h, w]``."""
        x = torch.stack([tokens.float() / self.num_codes,
                         (t.float() / self.num_tokens).view(-1, 1, 1).expand(tokens.shape)], dim=1)
        first = h = self.layers[0](x, steps=self.T)  # the same real input at every step: computed once
        for layer in self.layers[1:]:
            h = layer(h)
        logits = self.out(fold(torch.cat([h, first], dim=2)))
        return unfold(logits, self.T).mean(0)


def make_sdid(neuron=None, **config) -> SDID:
    return SDID(neuron, **config)
