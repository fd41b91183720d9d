"""Building blocks of the spiking U-Net (SDDPM / SDM, METHODS.md section 1).

Spiking tensors are time-first ``[T, B, C, H, W]``; convolutions and
BatchNorm run on the folded ``[T*B, C, H, W]`` view, so BatchNorm statistics
are shared over T*B. ``neuron`` is a zero-argument callable returning a fresh
neuron module (``[T, B, ...] -> [T, B, ...]`` spikes), or a :class:`Swish`
for the ANN twin. ``conv`` is a :func:`conv_maker` callable with
``nn.Conv2d``'s arguments.
"""
import functools
import math

import torch
from torch import nn

from sdmbench.plugin_api.neuron import fold, unfold


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[B]`` timesteps -> ``[B, dim]``, interleaved
    ``[sin(t w_0), cos(t w_0), sin(t w_1), cos(t w_1), ...]`` with
    ``w_k = 10000^(-2k / dim)`` (the DDPM / SDDPM table, evaluated on the fly)."""
    if dim % 2:
        raise ValueError(f"the time embedding needs an even base channel count, got ch={dim}")
    freqs = torch.exp(-math.log(10000) * torch.arange(0, dim, 2, device=t.device, dtype=torch.float32) / dim)
    args = t.float()[:, None] * freqs[None]
    return torch.stack([args.sin(), args.cos()], dim=-1).flatten(1)


class TimeEmbedding(nn.Module):
    """Sinusoidal(ch) -> Linear(ch, 4ch) -> Swish -> Linear(4ch, 4ch), real-valued,
    computed once per call and shared by every spiking time step."""

    def __init__(self, ch: int):
        super().__init__()
        self.ch = ch
        self.mlp = nn.Sequential(nn.Linear(ch, 4 * ch), nn.SiLU(), nn.Linear(4 * ch, 4 * ch))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.ch).to(self.mlp[0].weight.dtype))


class Conv(nn.Conv2d):
    """``nn.Conv2d`` on the folded ``[T*B, ...]`` view, optionally with SDM's
    temporal-wise spiking mechanism (TSM): the output of time step ``n``
    (bias included) is multiplied by a learned scalar ``gain[n]``, initialised
    to 1, before the BatchNorm that follows::

        y[n] = (W * s[n] + b) * gain[n]

    Without TSM ``gain`` is None and this is a plain convolution.
    """

    def __init__(self, *args, T: int = 1, temporal_gain: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.T = T
        self.gain = nn.Parameter(torch.ones(T)) if temporal_gain else None

    def forward(self, x: torch.Tensor, repeated: bool = False) -> torch.Tensor:
        """``[T*B, ...] -> [T*B, ...]``; ``repeated``: a ``[B, ...]`` input identical at every
        step -> ``[T, B, ...]`` (the convolution runs once; only the TSM gains differ between
        steps). Called as a module either way, so hooks (the energy counter) see the call."""
        y = super().forward(x)
        if repeated:
            y = y.unsqueeze(0)
            return y.expand(self.T, *y.shape[1:]) if self.gain is None else y * self.gain.view(-1, 1, 1, 1, 1)
        if self.gain is None:
            return y
        return fold(unfold(y, self.T) * self.gain.view(-1, 1, 1, 1, 1))


def conv_maker(T: int, temporal_gain: bool):
    """The ``conv(cin, cout, k, ...)`` callable blocks build their convolutions with."""
    return functools.partial(Conv, T=T, temporal_gain=temporal_gain)


class ResBlock(nn.Module):
    """Pre-spike residual block::

        x = BN(conv3x3(neuron(h))) + Linear(Swish(temb))
        x = BN(conv3x3(dropout(neuron(x))))
        out = x + shortcut(h)            (1x1 conv when channels change)
    """

    def __init__(self, cin: int, cout: int, tdim: int, neuron, conv, dropout: float):
        super().__init__()
        self.neuron1 = neuron()
        self.conv1 = conv(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.temb = nn.Sequential(nn.SiLU(), nn.Linear(tdim, cout))
        self.neuron2 = neuron()
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        T = h.shape[0]
        x = unfold(self.bn1(self.conv1(fold(self.neuron1(h)))), T)
        x = x + self.temb(temb)[None, :, :, None, None]
        x = self.bn2(self.conv2(self.dropout(fold(self.neuron2(x)))))
        return unfold(x, T) + unfold(self.shortcut(fold(h)), T)


class Downsample(nn.Module):
    """neuron -> conv3x3 stride 2 -> BN."""

    def __init__(self, ch: int, neuron, conv):
        super().__init__()
        self.neuron = neuron()
        self.conv = conv(ch, ch, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(ch)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return unfold(self.bn(self.conv(fold(self.neuron(h)))), h.shape[0])


class Upsample(nn.Module):
    """neuron -> nearest x2 -> conv3x3 -> BN."""

    def __init__(self, ch: int, neuron, conv):
        super().__init__()
        self.neuron = neuron()
        self.conv = conv(ch, ch, 3, padding=1)
        self.bn = nn.BatchNorm2d(ch)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(fold(self.neuron(h)), scale_factor=2, mode="nearest")
        return unfold(self.bn(self.conv(x)), h.shape[0])
