"""Building blocks of the spiking U-Net (SDDPM / SDM, METHODS.md section 1).

Spiking tensors are time-first ``[T, B, C, H, W]``; convolutions and
BatchNorm run on the folded ``[T*B, C, H, W]`` view, so BatchNorm statistics
are shared over T*B. ``neuron`` is a zero-argument callable returning a fresh
neuron module (``[T, B, ...] -> [T, B, ...]`` spikes), or a :class:`Swish`
for the ANN twin.
"""
import math

import torch
from torch import nn

from sdmbench.neuron import fold, unfold


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[B]`` timesteps -> ``[B, dim]``: ``sin(t w_k), cos(t w_k)`` with
    ``w_k = 10000^(-k / (dim/2 - 1))`` (DDPM's positional embedding)."""
    half = dim // 2
    scale = math.log(10000) / max(half - 1, 1)
    freqs = torch.exp(-scale * torch.arange(half, device=t.device, dtype=torch.float32))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([args.sin(), args.cos()], dim=1)
    return nn.functional.pad(emb, (0, dim % 2))


class TimeEmbedding(nn.Module):
    """Sinusoidal(ch) -> Linear(ch, 4ch) -> Swish -> Linear(4ch, 4ch), real-valued,
    computed once per call and shared by every spiking time step."""

    def __init__(self, ch: int):
        super().__init__()
        self.ch = ch
        self.mlp = nn.Sequential(nn.Linear(ch, 4 * ch), nn.SiLU(), nn.Linear(4 * ch, 4 * ch))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.ch))


class ResBlock(nn.Module):
    """Pre-spike residual block::

        x = BN(conv3x3(neuron(h))) + Linear(Swish(temb))
        x = BN(conv3x3(dropout(neuron(x))))
        out = x + shortcut(h)            (1x1 conv when channels change)
    """

    def __init__(self, cin: int, cout: int, tdim: int, neuron, dropout: float):
        super().__init__()
        self.neuron1 = neuron()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.temb = nn.Sequential(nn.SiLU(), nn.Linear(tdim, cout))
        self.neuron2 = neuron()
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        T = h.shape[0]
        x = unfold(self.bn1(self.conv1(fold(self.neuron1(h)))), T)
        x = x + self.temb(temb)[None, :, :, None, None]
        x = self.bn2(self.conv2(self.dropout(fold(self.neuron2(x)))))
        return unfold(x, T) + unfold(self.shortcut(fold(h)), T)


class Downsample(nn.Module):
    """neuron -> conv3x3 stride 2 -> BN."""

    def __init__(self, ch: int, neuron):
        super().__init__()
        self.neuron = neuron()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(ch)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return unfold(self.bn(self.conv(fold(self.neuron(h)))), h.shape[0])


class Upsample(nn.Module):
    """neuron -> nearest x2 -> conv3x3 -> BN."""

    def __init__(self, ch: int, neuron):
        super().__init__()
        self.neuron = neuron()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)
        self.bn = nn.BatchNorm2d(ch)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(fold(self.neuron(h)), scale_factor=2, mode="nearest")
        return unfold(self.bn(self.conv(x)), h.shape[0])
