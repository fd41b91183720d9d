"""The spiking U-Net of SDDPM / SDM as a backbone: ``forward(x_t, t) -> eps``.

Data flow for ``x_t: [B, C, H, W]`` and ``T`` spiking steps:

1. Direct encoding (the stem): ``BN(conv3x3(x_t))`` is the same at every
   step, so it is computed once and repeated T times (with TSM only the
   per-step gains differ), then ``BN(conv3x3(neuron(.)))``: ``h: [T, B, ch, H, W]``.
   With ``stem="analog"`` (not the authors' U-Net; issue 20's variant) the
   stem stops after the first BatchNorm: ``h[n] = BN(conv3x3(x_t))`` reaches
   the residual stream and the first skip real-valued, so the image need not
   cross a spiking layer to reach the output; every convolution after the
   first still reads spikes.
2. Down path of pre-spike :class:`ResBlock` s and :class:`Downsample` s,
   middle blocks, up path with the real-valued skips concatenated.
3. Tail per step: BN -> Swish -> conv3x3 to the image channels, then a per-step
   refinement with residual ``y = y + Swish(BN(conv3x3(y)))`` (no mixing over T).
4. Membrane readout ``out = sum_t 0.8^(T-1-t) y[t]``.

With ``neuron=None`` every neuron is a Swish and T is 1: the ANN twin. A
neuron module with ``temporal_gain = True`` (the ``tsm`` neuron) asks for
SDM's temporal-wise spiking mechanism: every convolution before a BatchNorm or
the readout gets T learned gains (:class:`~.blocks.Conv`).

Initialisation is PyTorch's default, not the SDDPM code's (Xavier-uniform,
tail convolution with gain 1e-5): at sdmbench's CPU budgets the 1e-5 tail
starves every layer of gradient early on (ANN twin, quick-preset shape, 300
Adam steps: smoothed loss 0.27 with their init, 0.05 with the default).
Imported checkpoints bring their own weights, so this does not affect them.
"""
from typing import Sequence

import torch
from torch import nn

from sdmbench.plugin_api.neuron import Swish, fold, unfold

from .blocks import Downsample, ResBlock, TimeEmbedding, Upsample, conv_maker

READOUT_DECAY = 0.8
STEMS = ("spiking", "analog")


class SpikingUNet(nn.Module):
    def __init__(self, neuron=None, *, T: int = 4, img_ch: int = 1, img_size: int = 32,
                 ch: int = 32, ch_mult: Sequence[int] = (1, 2, 2), num_res_blocks: int = 1,
                 dropout: float = 0.1, stem: str = "spiking"):
        super().__init__()
        if neuron is None:
            neuron, T = Swish, 1
        if isinstance(ch_mult, (str, bytes)) or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0
                                                         for m in ch_mult):
            raise ValueError(f"backbone.ch_mult must be a list of positive integers like [1,2,2], got {ch_mult!r}")
        down_factor = 2 ** (len(ch_mult) - 1)
        if img_size % down_factor:
            raise ValueError(f"image size {img_size} is not divisible by {down_factor} "
                             f"(ch_mult {tuple(ch_mult)} downsamples {len(ch_mult) - 1} times)")
        if stem not in STEMS:
            raise ValueError(f"unknown stem '{stem}'; use one of: {', '.join(STEMS)}")
        self.T, self.img_ch, self.img_size, self.stem_kind = T, img_ch, img_size, stem
        self.temporal_gain = bool(getattr(neuron(), "temporal_gain", False))
        conv = conv_maker(T, self.temporal_gain)
        tdim = 4 * ch
        self.time_embedding = TimeEmbedding(ch)
        self.stem_conv = conv(img_ch, ch, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(ch)
        if stem == "spiking":
            self.stem_neuron = neuron()
            self.stem_conv2 = conv(ch, ch, 3, padding=1)
            self.stem_bn2 = nn.BatchNorm2d(ch)

        self.down = nn.ModuleList()
        skip_chs, now = [ch], ch
        for level, mult in enumerate(ch_mult):
            out = ch * mult
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(now, out, tdim, neuron, conv, dropout))
                now = out
                skip_chs.append(now)
            if level != len(ch_mult) - 1:
                self.down.append(Downsample(now, neuron, conv))
                skip_chs.append(now)
        self.middle = nn.ModuleList([ResBlock(now, now, tdim, neuron, conv, dropout),
                                     ResBlock(now, now, tdim, neuron, conv, dropout)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            out = ch * mult
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(skip_chs.pop() + now, out, tdim, neuron, conv, dropout))
                now = out
            if level != 0:
                self.up.append(Upsample(now, neuron, conv))
        assert not skip_chs
        self.tail = nn.Sequential(nn.BatchNorm2d(now), nn.SiLU(), conv(now, img_ch, 3, padding=1))
        self.refine = nn.Sequential(nn.Conv2d(img_ch, img_ch, 3, padding=1), nn.BatchNorm2d(img_ch), nn.SiLU())
        weights = READOUT_DECAY ** torch.arange(T - 1, -1, -1, dtype=torch.float32)
        self.register_buffer("readout", weights.view(T, 1, 1, 1, 1), persistent=False)

    @staticmethod
    def optional_state(key: str) -> bool:
        """TSM's per-step gains may be missing from weights loaded with
        ``--init-from`` (an IF run): they start at 1, i.e. as the IF model."""
        return key.endswith(".gain")

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` image -> ``[T, B, ch, H, W]`` real-valued features."""
        T = self.T
        y = self.stem_conv(x, repeated=True)
        if self.temporal_gain:
            y = unfold(self.stem_bn(fold(y)), T)
        else:  # identical steps: normalise one copy (same batch statistics) and repeat it
            y = self.stem_bn(y[0]).unsqueeze(0).expand(T, *y.shape[1:])
        if self.stem_kind == "analog":
            return y
        return unfold(self.stem_bn2(self.stem_conv2(fold(self.stem_neuron(y)))), T)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        T = self.T
        temb = self.time_embedding(t)
        h = self.stem(x)
        skips = [h]
        for block in self.down:
            h = block(h, temb)
            skips.append(h)
        for block in self.middle:
            h = block(h, temb)
        for block in self.up:
            if isinstance(block, ResBlock):
                h = torch.cat([h, skips.pop()], dim=2)
            h = block(h, temb)
        y = self.tail(fold(h))
        y = unfold(y + self.refine(y), T)
        return (self.readout * y).sum(0)


def make_unet(neuron=None, **config) -> SpikingUNet:
    return SpikingUNet(neuron, **config)
