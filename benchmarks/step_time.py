"""Time one training step (forward, backward, Adam) and one sampling step
(eval forward) of the spiking U-Net next to its ANN twin, in one process, and
optionally next to the authors' reference implementation with the same weights.

    python benchmarks/step_time.py                       # sdmbench SNN vs ANN twin
    python benchmarks/step_time.py --reference SDDPM     # + their Spk_UNet (clone of
                                                         #   AndyCao1125/SDDPM, spikingjelly installed)
    python benchmarks/step_time.py --allocator           # glibc allocator tuning on vs off
    python benchmarks/step_time.py --bf16                # + both U-Nets under precision = bf16

Config (issue 3): ch 32, ch_mult 1,2,2, one res block per level, T 4, batch
32, 32x32, one image channel, CPU, 2 threads. Medians of ``--repeats`` after
two warm-up steps. Printed ratios: SNN / (T x ANN) for training and sampling
(the dense-compute limit is 1.0; the target is <= 1.1) and reference /
sdmbench (the target is >= 1.5).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = dict(img_ch=1, img_size=32, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, dropout=0.0)


def median(values):
    return sorted(values)[len(values) // 2]


def time_model(net, batch: int, repeats: int, after=lambda: None, precision: str = "fp32") -> dict:
    import torch

    from sdmbench.hardware.precision import autocast
    from sdmbench_ddpm.process import GaussianDiffusion

    process, gen = GaussianDiffusion(), torch.Generator().manual_seed(0)
    x = torch.randn(batch, CONFIG["img_ch"], CONFIG["img_size"], CONFIG["img_size"], generator=gen)
    opt = torch.optim.Adam(net.parameters(), 2e-4)
    net.train()
    train = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        with autocast(precision, "cpu"):
            loss = process.loss(net, x, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        after()
        train.append(time.perf_counter() - start)
    net.eval()
    t = torch.full((batch,), 500)
    sample = []
    with torch.no_grad(), autocast(precision, "cpu"):
        for i in range(repeats + 2):
            start = time.perf_counter()
            net(x, t)
            after()
            sample.append(time.perf_counter() - start)
    return {"train_s": median(train[2:]), "sample_s": median(sample[2:])}


def reference_pair(repo: Path, T: int):
    """Their Spk_UNet and an sdmbench U-Net holding the same (random) weights."""
    import torch

    sys.path.insert(0, str(repo / "model"))
    from SpikingUNet import Spk_UNet  # noqa: E402  (their module, from the clone)
    from spikingjelly.activation_based import functional

    from sdmbench.api import load_backbone
    from sdmbench_sdm.importer import import_sddpm

    theirs = Spk_UNet(T=1000, ch=CONFIG["ch"], ch_mult=list(CONFIG["ch_mult"]), attn=[],
                      num_res_blocks=CONFIG["num_res_blocks"], dropout=0.0, timestep=T, img_ch=CONFIG["img_ch"])
    with tempfile.TemporaryDirectory() as tmp:
        torch.save({"net_model": theirs.state_dict()}, Path(tmp) / "ckpt.pt")
        run = import_sddpm(Path(tmp) / "ckpt.pt", Path(tmp) / "run", dataset="fashion-mnist",
                           ch_mult=CONFIG["ch_mult"], num_res_blocks=CONFIG["num_res_blocks"], T=T,
                           img_size=CONFIG["img_size"], img_ch=CONFIG["img_ch"])
        ours = load_backbone(run, weights="model")
    return theirs, ours, (lambda: functional.reset_net(theirs))


def measure(args) -> dict:
    import torch

    from sdmbench.hardware import allocator
    from sdmbench.plugin_api.neuron import neuron_maker
    from sdmbench_neurons import make_if
    from sdmbench_sdm.unet import SpikingUNet

    tuned = allocator.tune()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"allocator_tuned": tuned}
    if args.reference:
        theirs, snn, reset = reference_pair(args.reference, args.T)
        out["reference"] = time_model(theirs, args.batch, args.repeats, reset)
    else:
        snn = SpikingUNet(neuron_maker(make_if, args.T), T=args.T, **CONFIG)
    out["snn"] = time_model(snn, args.batch, args.repeats)
    ann = SpikingUNet(None, T=args.T, **CONFIG)
    out["ann"] = time_model(ann, args.batch, args.repeats)
    if args.bf16:
        out["snn_bf16"] = time_model(snn, args.batch, args.repeats, precision="bf16")
        out["ann_bf16"] = time_model(ann, args.batch, args.repeats, precision="bf16")
    return out


def report(r: dict, T: int) -> None:
    snn, ann = r["snn"], r["ann"]
    rows = [("sdmbench SNN", snn), ("ANN twin", ann)] + ([("reference Spk_UNet", r["reference"])]
                                                         if "reference" in r else [])
    if "snn_bf16" in r:
        rows += [("sdmbench SNN, bf16", r["snn_bf16"]), ("ANN twin, bf16", r["ann_bf16"])]
    print(f"{'':20s} {'train step s':>13s} {'sample step s':>14s}")
    for label, m in rows:
        print(f"{label:20s} {m['train_s']:13.3f} {m['sample_s']:14.3f}")
    print(f"SNN / (T x ANN): train {snn['train_s'] / (T * ann['train_s']):.2f}, "
          f"sample {snn['sample_s'] / (T * ann['sample_s']):.2f}   (target <= 1.10)")
    if "reference" in r:
        ref = r["reference"]
        print(f"reference / sdmbench: train {ref['train_s'] / snn['train_s']:.2f}x, "
              f"sample {ref['sample_s'] / snn['sample_s']:.2f}x   (target >= 1.50)")
    if "snn_bf16" in r:
        for label, fp32, bf16 in [("SNN", snn, r["snn_bf16"]), ("ANN", ann, r["ann_bf16"])]:
            print(f"bf16 speed-up, {label}: train {fp32['train_s'] / bf16['train_s']:.2f}x, "
                  f"sample {fp32['sample_s'] / bf16['sample_s']:.2f}x")
        if "reference" in r:
            ref, b = r["reference"], r["snn_bf16"]
            print(f"reference (fp32) / sdmbench bf16: train {ref['train_s'] / b['train_s']:.2f}x, "
                  f"sample {ref['sample_s'] / b['sample_s']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--T", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference", type=Path, help="clone of AndyCao1125/SDDPM (needs spikingjelly)")
    parser.add_argument("--allocator", action="store_true", help="compare glibc allocator tuning on vs off")
    parser.add_argument("--bf16", action="store_true", help="also time both U-Nets with precision = bf16")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(f"batch {args.batch}, T {args.T}, {args.threads} threads, 32x32, 1 channel, ch 32, ch_mult 1,2,2, "
          f"1 res block; median of {args.repeats}")
    if args.child or not args.allocator:
        result = measure(args)
        if args.child:
            print(json.dumps(result))
        else:
            report(result, args.T)
        return
    argv = [a for a in sys.argv[1:] if a != "--allocator"]
    results = {}
    for label, env in [("glibc defaults", {"SDMBENCH_NO_MALLOPT": "1"}), ("sdmbench tuned", {})]:
        proc = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True,
                              env={**os.environ, **env}, check=True)
        results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"--- allocator: {label}")
        report(results[label], args.T)
    base, tuned = results["glibc defaults"]["snn"], results["sdmbench tuned"]["snn"]
    print(f"allocator tuning speed-up, SNN: train {base['train_s'] / tuned['train_s']:.2f}x, "
          f"sample {base['sample_s'] / tuned['sample_s']:.2f}x")
    if "reference" in results["glibc defaults"]:
        shipped = results["glibc defaults"]["reference"]
        print(f"reference as shipped (glibc defaults) / sdmbench as shipped (tuned): "
              f"train {shipped['train_s'] / tuned['train_s']:.2f}x, sample {shipped['sample_s'] / tuned['sample_s']:.2f}x")


if __name__ == "__main__":
    main()
