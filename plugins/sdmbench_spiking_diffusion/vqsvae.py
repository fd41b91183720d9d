"""VQ-SVAE: the spiking VQ-VAE of Spiking-Diffusion (Liu et al. 2023).

Shapes for a 28x28 image and T steps (the image in [-1, 1] is halved to
[-0.5, 0.5] and repeated T times: direct encoding; a layer fed the same real
input at every step computes it once and repeats its output)::

    encoder  conv3x3/2 (C->32) BN neuron, conv3x3/2 (32->64) BN neuron,
             conv1x1 (64->D) BN neuron                       -> spikes s [T, B, D, 7, 7]
    feature  z = (1 - a) * M(s) + a * mean_t s[t]            (a learned, init 0.5)
    quantise q = VQ(z)  (codebook K x D, commitment beta)
    generate g = neuron(BN(conv1x1(q repeated T times)))     (adaptive spike generator)
    decoder  convT3x3/2 (D->64) BN neuron, convT3x3/2 (64->32) BN neuron, convT3x3 (32->C)
    output   tanh(M(h))

with the membrane readout ``M(x) = sum_t 0.8^(T-1-t) x[t]``. Losses: the VQ
loss on ``z``; the same loss in the postsynaptic-potential domain between the
generated and the encoder's spike trains, ``PSP(x)[t] = (1 - 1/tau_s) PSP(x)[t-1]
+ x[t] / tau_s``; reconstruction MSE divided by the data variance.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from sdmbench.plugin_api.neuron import Swish, fold, unfold

from .quantizer import VectorQuantizer

DECAY = 0.8


def membrane_readout(x: torch.Tensor) -> torch.Tensor:
    """``sum_t 0.8^(T-1-t) x[t]`` over the leading time axis."""
    T = x.shape[0]
    w = DECAY ** torch.arange(T - 1, -1, -1, dtype=x.dtype, device=x.device)
    return (w.view(T, *([1] * (x.dim() - 1))) * x).sum(0)


def psp(x: torch.Tensor, tau_s: float = 2.0) -> torch.Tensor:
    """First-order synaptic filter over the leading time axis."""
    out, syn = [], torch.zeros_like(x[0])
    for xt in x.unbind(0):
        syn = syn * (1 - 1 / tau_s) + xt / tau_s
        out.append(syn)
    return torch.stack(out)


class SpikingConv(nn.Module):
    """``[T, B, ...]`` -> conv (or transposed conv) -> BN -> neuron, folded over T.

    ``forward(x, steps=T)`` takes a real-valued ``[B, ...]`` that is the same at every one of T steps
    (direct encoding): conv and BN run once (one copy has the batch statistics of T copies) and their
    output is repeated over T for the neuron, so the network computes, and the energy counter counts,
    the real-valued layer once, as the spiking U-Net's stem does."""

    def __init__(self, conv: nn.Module, neuron):
        super().__init__()
        self.conv, self.bn, self.neuron = conv, nn.BatchNorm2d(conv.out_channels), neuron()

    def forward(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        if steps is not None:
            y = self.bn(self.conv(x))
            return self.neuron(y.unsqueeze(0).expand(steps, *y.shape))
        return self.neuron(unfold(self.bn(self.conv(fold(x))), x.shape[0]))


class VQSVAE(nn.Module):
    def __init__(self, neuron=None, *, T: int = 16, img_ch: int = 1, img_size: int = 28, num_codes: int = 128,
                 code_dim: int = 16, beta: float = 0.25, tau_s: float = 2.0, widths: Tuple[int, int] = (32, 64)):
        super().__init__()
        if neuron is None:
            neuron, T = Swish, 1
        if img_size % 4:
            raise ValueError(f"VQ-SVAE halves the image twice: size {img_size} is not divisible by 4")
        w1, w2 = widths
        self.T, self.tau_s, self.grid = T, tau_s, (img_size // 4, img_size // 4)
        self.encoder = nn.Sequential(
            SpikingConv(nn.Conv2d(img_ch, w1, 3, stride=2, padding=1), neuron),
            SpikingConv(nn.Conv2d(w1, w2, 3, stride=2, padding=1), neuron),
            SpikingConv(nn.Conv2d(w2, code_dim, 1), neuron))
        self.alpha = nn.Parameter(torch.tensor(0.5))
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta)
        self.spike_generator = SpikingConv(nn.Conv2d(code_dim, code_dim, 1), neuron)
        self.decoder = nn.Sequential(
            SpikingConv(nn.ConvTranspose2d(code_dim, w2, 3, stride=2, padding=1, output_padding=1), neuron),
            SpikingConv(nn.ConvTranspose2d(w2, w1, 3, stride=2, padding=1, output_padding=1), neuron))
        self.head = nn.ConvTranspose2d(w1, img_ch, 3, padding=1)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    def encode_spikes(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] ``[B, C, H, W]`` -> encoder spikes ``[T, B, D, h, w]``."""
        return self.encoder[1:](self.encoder[0](x / 2, steps=self.T))

    def features(self, spikes: torch.Tensor) -> torch.Tensor:
        return (1 - self.alpha) * membrane_readout(spikes) + self.alpha * spikes.mean(0)

    def decode_codes(self, q: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Code vectors ``[B, D, h, w]`` -> (images in [-1, 1], generated spikes)."""
        spikes = self.spike_generator(q, steps=self.T)
        h = self.decoder(spikes)
        y = unfold(self.head(fold(h)), self.T)
        return torch.tanh(membrane_readout(y)), spikes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> code indices ``[B, h, w]``."""
        return self.quantizer.nearest(self.features(self.encode_spikes(x)))

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices ``[B, h, w]`` -> images in [-1, 1]."""
        return self.decode_codes(self.quantizer.lookup(indices))[0]

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """The reconstruction (the backbone contract's ``forward(x, t)``; ``t`` unused)."""
        return self.losses(x)[0]

    def losses(self, x: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Reconstruction and the VQ losses of one batch of images in [-1, 1]."""
        enc = self.encode_spikes(x)
        q, indices, vq_loss = self.quantizer(self.features(enc))
        recon, gen = self.decode_codes(q)
        p_gen, p_enc = psp(gen, self.tau_s), psp(enc, self.tau_s)
        psp_loss = F.mse_loss(p_gen, p_enc.detach()) + self.quantizer.beta * F.mse_loss(p_gen.detach(), p_enc)
        return recon, {"vq": vq_loss, "psp": psp_loss, "mse": F.mse_loss(recon, x), "indices": indices}


def make_vqsvae(neuron=None, **config) -> VQSVAE:
    return VQSVAE(neuron, **config)
