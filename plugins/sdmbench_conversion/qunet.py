"""The convertible ANN U-Net of ``sdm-converted`` (backbone ``qcfs-unet``).

A DDPM U-Net (no attention) whose every activation is a b-bit
:class:`~.layers.QuantClipReLU` and whose norms are GroupNorm
(:class:`~.layers.TimeGroupNorm`). Every convolution but the first is
*pre-activation*: it reads the output of an activation, so after conversion
it reads spikes::

    ResBlock:  a = act(GN(x));  h = conv3x3(a) + Linear(temb)
               h = conv3x3(dropout(act(GN(h))));  out = h + (x, or conv1x1(a) when channels change)
    Down:      conv3x3/2(act(GN(x)))        Up: conv3x3(nearest2x(act(GN(x))))
    tail:      conv3x3(act(GN(h)))          skips: concatenated, as in DDPM

What stays real-valued after conversion (and is counted as MACs): the input
conv3x3 on the image (computed once, its output repeated over T as a constant
current: direct encoding) and the time embedding (sinusoid -> Linear -> Swish
-> Linear, and each block's Linear projection of it, computed once per
denoising step and added at every time step).

``time_steps`` (1 for the ANN; a converter sets T) runs the network on the
time-folded batch ``[T*B, ...]`` and returns the mean over T of the tail's
output (the rate readout). Modules with a ``time_steps`` attribute are the
ones a converter tells T.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import nn

from sdmbench_sdm.blocks import TimeEmbedding

from .layers import QuantClipReLU, TimeGroupNorm


class Layers:
    """Makers of the quantised activation and the norm, one config for the whole U-Net."""

    def __init__(self, bits: int, alpha_init: float, groups: int):
        self.bits, self.alpha_init, self.groups = bits, alpha_init, groups

    def act(self) -> QuantClipReLU:
        return QuantClipReLU(self.bits, self.alpha_init)

    def norm(self, channels: int) -> TimeGroupNorm:
        groups = self.groups
        while channels % groups:
            groups -= 1
        return TimeGroupNorm(groups, channels)


def repeat_steps(x: torch.Tensor, batch: int, total: int) -> torch.Tensor:
    """``[B, ...]`` repeated over the time steps of a ``[T*B, ...]`` tensor (time-major)."""
    return x.repeat(total // batch, *([1] * (x.dim() - 1)))


class ResBlock(nn.Module):
    def __init__(self, layers: Layers, cin: int, cout: int, tdim: int, dropout: float):
        super().__init__()
        self.pre1 = nn.Sequential(layers.norm(cin), layers.act())
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.block2 = nn.Sequential(layers.norm(cout), layers.act(), nn.Dropout(dropout),
                                    nn.Conv2d(cout, cout, 3, padding=1))
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        a = self.pre1(x)
        h = self.conv1(a) + repeat_steps(self.temb(temb), len(temb), len(x))[:, :, None, None]
        h = self.block2(h)
        return h + (self.shortcut(a) if self.shortcut is not None else x)


def downsample(layers: Layers, ch: int) -> nn.Sequential:
    return nn.Sequential(layers.norm(ch), layers.act(), nn.Conv2d(ch, ch, 3, stride=2, padding=1))


def upsample(layers: Layers, ch: int) -> nn.Sequential:
    return nn.Sequential(layers.norm(ch), layers.act(), nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(ch, ch, 3, padding=1))


class QuantUNet(nn.Module):
    time_steps: int = 1

    def __init__(self, neuron=None, *, T: int = 1, img_ch: int = 1, img_size: int = 32, ch: int = 32,
                 ch_mult: Sequence[int] = (1, 2, 2, 2), num_res_blocks: int = 1, dropout: float = 0.0,
                 bits: int = 2, alpha_init: float = 6.0, groups: int = 8):
        super().__init__()
        if neuron is not None:
            raise ValueError("qcfs-unet is an ANN with quantised ReLUs; its spiking form comes from a converter "
                             "(model sdm-converted), not from --neuron")
        if bits is None:
            raise ValueError("qcfs-unet needs bits (the activation quantisation): --set bits=B")
        if img_size % 2 ** (len(ch_mult) - 1):
            raise ValueError(f"image size {img_size} is not divisible by 2^{len(ch_mult) - 1} "
                             f"for ch_mult {tuple(ch_mult)}")
        layers = Layers(int(bits), alpha_init, groups)
        self.temb = TimeEmbedding(ch)
        tdim = 4 * ch
        self.stem = nn.Conv2d(img_ch, ch, 3, padding=1)
        self.down = nn.ModuleList()
        widths: List[int] = [ch]
        now = ch
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(layers, now, ch * mult, tdim, dropout))
                now = ch * mult
                widths.append(now)
            if level != len(ch_mult) - 1:
                self.down.append(downsample(layers, now))
                widths.append(now)
        self.mid = nn.ModuleList([ResBlock(layers, now, now, tdim, dropout) for _ in range(2)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(layers, widths.pop() + now, ch * mult, tdim, dropout))
                now = ch * mult
            if level != 0:
                self.up.append(upsample(layers, now))
        self.tail = nn.Sequential(layers.norm(now), layers.act(), nn.Conv2d(now, img_ch, 3, padding=1))

    def feature_blocks(self) -> List[str]:
        """Names of the blocks whose outputs converted-network fine-tuning matches."""
        return [f"{part}.{i}" for part in ("down", "mid", "up") for i in range(len(getattr(self, part)))]

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        batch, total = len(x), len(x) * self.time_steps
        temb = self.temb(t)
        h = repeat_steps(self.stem(x), batch, total)
        skips = [h]
        for block in self.down:
            h = block(h, temb) if isinstance(block, ResBlock) else block(h)
            skips.append(h)
        for block in self.mid:
            h = block(h, temb)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], 1), temb) if isinstance(block, ResBlock) else block(h)
        out = self.tail(h)
        return out.view(self.time_steps, batch, *out.shape[1:]).mean(0)


def make_qunet(neuron=None, **config) -> QuantUNet:
    return QuantUNet(neuron, **config)
