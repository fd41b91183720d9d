"""Map the authors' SDDPM / SDM checkpoints onto :class:`~.unet.SpikingUNet`.

The published code saves ``{"net_model": state_dict, "ema_model": ...,
"optim": ..., "step": ...}`` (or a bare state dict) of its ``Spk_UNet``, or of
``Spk_UNet_TSM`` whose convolutions are wrapped as ``<name>.tsmconv`` with
gains ``<name>.tsmp`` of shape ``[T, 1, 1, 1, 1]``. Their module names map onto
ours one to one (``module.`` prefixes from DataParallel are dropped):

=================================  ==============================
theirs                             sdmbench ``sdm-unet``
=================================  ==============================
time_embedding.timembedding.0      (the sinusoid table; recomputed)
time_embedding.timembedding.1 / 3  time_embedding.mlp.0 / 2
conv, bn                           stem_conv, stem_bn
conv_identity, bn_identity         stem_conv2, stem_bn2
downblocks / middleblocks /        down / middle / up
upblocks.i.temb_proj.1             (same index).temb.1
tail_bn, tail_conv                 tail.0, tail.2
T_output_layer (Conv3d 3x3x1)      refine.0 (Conv2d 3x3, kernel squeezed)
last_bn                            refine.1
X.tsmconv.weight / bias, X.tsmp    X.weight / bias, X.gain (flattened)
=================================  ==============================

Every other name (conv1, bn1, conv2, bn2, shortcut, conv, bn inside blocks)
is the same on both sides.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Tuple

import torch

from sdmbench.errors import UsageError

_RENAMES = [
    (r"^time_embedding\.timembedding\.1\.", "time_embedding.mlp.0."),
    (r"^time_embedding\.timembedding\.3\.", "time_embedding.mlp.2."),
    (r"^conv\.", "stem_conv."),
    (r"^bn\.", "stem_bn."),
    (r"^conv_identity\.", "stem_conv2."),
    (r"^bn_identity\.", "stem_bn2."),
    (r"^downblocks\.", "down."),
    (r"^middleblocks\.", "middle."),
    (r"^upblocks\.", "up."),
    (r"\.temb_proj\.1\.", ".temb.1."),
    (r"^tail_bn\.", "tail.0."),
    (r"^tail_conv\.", "tail.2."),
    (r"^T_output_layer\.", "refine.0."),
    (r"^last_bn\.", "refine.1."),
    (r"\.tsmconv\.", "."),
    (r"\.tsmp$", ".gain"),
]
_SKIP = re.compile(r"^time_embedding\.timembedding\.0\.weight$")


def pick_state_dict(checkpoint: Any, key: str | None = None) -> Dict[str, torch.Tensor]:
    """The network weights inside a loaded checkpoint: ``key`` if given, else
    ``ema_model``, else ``net_model``, else the checkpoint itself."""
    if not isinstance(checkpoint, Mapping):
        raise UsageError(f"the checkpoint holds a {type(checkpoint).__name__}, not a state dict")
    if key is not None:
        if key not in checkpoint:
            raise UsageError(f"the checkpoint has no '{key}'; it has: {', '.join(map(str, checkpoint))}")
        return checkpoint[key]
    for name in ("ema_model", "net_model"):
        if name in checkpoint:
            return checkpoint[name]
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    raise UsageError("the checkpoint has neither 'net_model' nor 'ema_model'; pass --key NAME")


def convert(theirs: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename (and reshape) a ``Spk_UNet`` / ``Spk_UNet_TSM`` state dict to ``sdm-unet`` keys."""
    ours: Dict[str, torch.Tensor] = {}
    for key, value in theirs.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if _SKIP.match(key):
            continue
        for pattern, repl in _RENAMES:
            key = re.sub(pattern, repl, key)
        if key == "refine.0.weight" and value.dim() == 5:
            value = value.squeeze(-1)
        elif key.endswith(".gain"):
            value = value.flatten()
        ours[key] = value
    return ours


def infer_shape(theirs: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, int], bool, int | None]:
    """``(dict(ch=, img_ch=), tsm, T)`` read off the stem convolution (T only for TSM)."""
    ours = convert(theirs)
    try:
        weight = ours["stem_conv.weight"]
    except KeyError:
        raise UsageError("this is not an SDDPM/SDM U-Net checkpoint: it has no stem convolution "
                         "('conv.weight' or 'conv.tsmconv.weight')") from None
    gain = ours.get("stem_conv.gain")
    return dict(ch=weight.shape[0], img_ch=weight.shape[1]), gain is not None, \
        (gain.numel() if gain is not None else None)


def check_table(theirs: Mapping[str, torch.Tensor], ch: int) -> None:
    """Their frozen sinusoid table must be the embedding sdmbench computes."""
    from .blocks import sinusoidal_embedding

    table = theirs.get("time_embedding.timembedding.0.weight",
                       theirs.get("module.time_embedding.timembedding.0.weight"))
    if table is None:
        return
    steps = torch.arange(table.shape[0])
    if not torch.allclose(table.float(), sinusoidal_embedding(steps, ch), atol=1e-4):
        raise UsageError("the checkpoint's time-embedding table differs from the DDPM sinusoids")


def load_into(net: torch.nn.Module, theirs: Mapping[str, torch.Tensor]) -> None:
    """Load converted weights into ``net``, naming what does not fit."""
    ours = convert(theirs)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(ours))
    extra = sorted(set(ours) - set(expected))
    wrong = [k for k in set(expected) & set(ours) if expected[k].shape != ours[k].shape]
    if missing or extra or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else
                  f"shape of {wrong[0]}: checkpoint {tuple(ours[wrong[0]].shape)}, "
                  f"model {tuple(expected[wrong[0]].shape)}")
        raise UsageError(f"the checkpoint does not fit this U-Net ({detail}); pass the --ch-mult, "
                         "--res-blocks and --T it was trained with")
    net.load_state_dict(ours)
