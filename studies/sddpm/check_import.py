"""Check ``sdmbench import sddpm`` + ``load_backbone`` against the authors' code.

    pip install spikingjelly==0.0.0.0.14   # what their requirements pin
    git clone https://github.com/AndyCao1125/SDDPM   # Spk_UNet
    git clone https://github.com/AndyCao1125/SDM     # Spk_UNet_TSM
    python studies/sddpm/check_import.py --sddpm SDDPM --sdm SDM

Builds their U-Net with random weights and random BatchNorm statistics (and
random TSM gains), saves it as their training script does (``net_model`` /
``ema_model``), imports it, and compares both networks' eval-mode outputs on
the same random ``x_t, t``. Prints the largest absolute difference; the
import is faithful when it is below 1e-4. Nothing of theirs is copied here:
their modules are imported from the clones you point at.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch


def randomise(net: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("tsmp"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif "timembedding.0" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))


def check(cls, kwargs: dict, key: str, cfg: dict, batch: int, seed: int, dtype: torch.dtype) -> tuple:
    from spikingjelly.activation_based import functional

    from sdmbench.api import load_backbone
    from sdmbench_sdm.importer import import_sddpm

    torch.manual_seed(seed)
    theirs = cls(**kwargs)
    randomise(theirs, seed)
    theirs.eval()
    x = torch.randn(batch, kwargs["img_ch"], cfg["img_size"], cfg["img_size"])
    t = torch.randint(0, 1000, (batch,))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt.pt"
        torch.save({key: theirs.state_dict(), "step": 0}, ckpt)
        run = import_sddpm(ckpt, Path(tmp) / "run", dataset="cifar10", ch_mult=kwargs["ch_mult"],
                           num_res_blocks=kwargs["num_res_blocks"], T=kwargs["timestep"],
                           img_size=cfg["img_size"], img_ch=kwargs["img_ch"], ch=kwargs["ch"])
        ours = load_backbone(run)
    theirs.to(dtype), ours.to(dtype)
    x = x.to(dtype)
    with torch.no_grad():
        expected = theirs(x, t)
        functional.reset_net(theirs)
        got = ours(x, t)
    return (expected - got).abs().max().item(), expected.abs().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sddpm", type=Path, required=True, help="clone of AndyCao1125/SDDPM")
    parser.add_argument("--sdm", type=Path, help="clone of AndyCao1125/SDM (for Spk_UNet_TSM)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"],
                        help="float64 (default) keeps rounding from flipping spikes whose membrane sits within "
                             "float32 precision of the threshold")
    args = parser.parse_args()
    sys.path.insert(0, str(args.sddpm / "model"))
    from SpikingUNet import Spk_UNet

    cases = [("Spk_UNet, ch 32, 1-2-2, 1 block, T 4, 1 ch", Spk_UNet,
              dict(T=1000, ch=32, ch_mult=[1, 2, 2], attn=[], num_res_blocks=1, dropout=0.1, timestep=4, img_ch=1),
              "net_model", dict(img_size=32)),
             ("Spk_UNet, ch 64, 1-2-2-4, 2 blocks, T 8, 3 ch", Spk_UNet,
              dict(T=1000, ch=64, ch_mult=[1, 2, 2, 4], attn=[], num_res_blocks=2, dropout=0.1, timestep=8,
                   img_ch=3), "ema_model", dict(img_size=32))]
    if args.sdm:
        sys.path.insert(0, str(args.sdm / "SDM"))
        from TSM import Spk_UNet_TSM

        cases.append(("Spk_UNet_TSM, ch 32, 1-2-2-2, 2 blocks, T 4, 3 ch", Spk_UNet_TSM,
                      dict(T=1000, ch=32, ch_mult=[1, 2, 2, 2], attn=[], num_res_blocks=2, dropout=0.1, timestep=4,
                           img_ch=3), "ema_model", dict(img_size=32)))
    worst = 0.0
    dtype = getattr(torch, args.dtype)
    for i, (label, cls, kwargs, key, cfg) in enumerate(cases):
        diff, scale = check(cls, kwargs, key, cfg, args.batch, seed=i, dtype=dtype)
        worst = max(worst, diff)
        print(f"{label:52s} {args.dtype}: max |ours - theirs| = {diff:.2e}  (mean |output| {scale:.3f})")
    print(f"{'PASS' if worst < 1e-4 else 'FAIL'}: largest difference {worst:.2e} (tolerance 1e-4)")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
