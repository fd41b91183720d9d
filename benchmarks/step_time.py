"""Time one training step and one sampling forward of the spiking U-Net next to
its ANN twin, with and without sdmbench's allocator tuning.

    python benchmarks/step_time.py [--batch 64] [--T 4] [--threads 2]

Each configuration runs in its own process (glibc settings cannot be undone in
a process), and the script prints the times and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CONFIG = dict(img_ch=1, img_size=32, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, dropout=0.0)


def measure(batch: int, T: int, threads: int, repeats: int) -> dict:
    import torch

    from sdmbench import allocator
    from sdmbench.neuron import neuron_maker
    from sdmbench_ddpm.process import GaussianDiffusion
    from sdmbench_neurons import make_if
    from sdmbench_sdm.unet import SpikingUNet

    tuned = allocator.tune()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    process = GaussianDiffusion()
    out = {"allocator_tuned": tuned}
    for name, net in [("snn", SpikingUNet(neuron_maker(make_if, T), T=T, **CONFIG)),
                      ("ann", SpikingUNet(None, T=T, **CONFIG))]:
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        x = torch.randn(batch, 1, 32, 32)
        times = []
        for i in range(repeats + 2):
            start = time.perf_counter()
            loss = process.loss(net, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 2:
                times.append(time.perf_counter() - start)
        out[f"{name}_train_s"] = sorted(times)[len(times) // 2]
        net.eval()
        t = torch.full((batch,), 500)
        times = []
        with torch.no_grad():
            for i in range(repeats + 1):
                start = time.perf_counter()
                net(x, t)
                if i >= 1:
                    times.append(time.perf_counter() - start)
        out[f"{name}_sample_s"] = sorted(times)[len(times) // 2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--T", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.batch, args.T, args.threads, args.repeats)))
        return
    results = {}
    for label, env in [("baseline (glibc defaults)", {"SDMBENCH_NO_MALLOPT": "1"}), ("sdmbench (tuned)", {})]:
        proc = subprocess.run([sys.executable, __file__, "--child", *sys.argv[1:]], capture_output=True, text=True,
                              env={**os.environ, **env}, check=True)
        results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"batch {args.batch}, T {args.T}, {args.threads} threads, 32x32, ch 32, ch_mult 1,2,2, median of "
          f"{args.repeats}")
    print(f"{'':28s} {'SNN train':>10s} {'ANN train':>10s} {'SNN fwd':>10s} {'ANN fwd':>10s} "
          f"{'train SNN/ANN':>14s} {'fwd SNN/ANN':>12s}")
    for label, r in results.items():
        print(f"{label:28s} {r['snn_train_s']:10.3f} {r['ann_train_s']:10.3f} {r['snn_sample_s']:10.3f} "
              f"{r['ann_sample_s']:10.3f} {r['snn_train_s'] / r['ann_train_s']:14.2f} "
              f"{r['snn_sample_s'] / r['ann_sample_s']:12.2f}")
    base, tuned = results["baseline (glibc defaults)"], results["sdmbench (tuned)"]
    print(f"speed-up from allocator tuning: SNN train {base['snn_train_s'] / tuned['snn_train_s']:.2f}x, "
          f"SNN forward {base['snn_sample_s'] / tuned['snn_sample_s']:.2f}x")


if __name__ == "__main__":
    main()
