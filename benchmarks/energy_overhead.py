"""What counting every batch of the sampling pass costs: denoising steps of a
quick-preset network timed bare, under sdmbench's EnergyCounter, and (when
installed) under spikingjelly's op_counter (MAC + SynOp counters), in one
process, alternating, medians of ``--repeats``.

    python benchmarks/energy_overhead.py [--batch 100] [--steps 20] [--repeats 5] [--threads 2] [--network sdm-ann]

The counter is entered once per ``--steps`` denoising steps, as the sampling pass enters it once
per batch of ``sample_steps`` (20 at the quick preset); fewer steps weigh its setup more.
Prints, per network, the time of one denoising step of one batch and each
counter's ratio to the bare step (issue 18's bound: sdmbench's at most
1.10) and, apart, without the function mode that counts additions between layers. Networks: the quick ``sdm`` U-Net (IF and TSM neurons, T = 4, ch 32,
32 px), its ANN twin, and the quick Spiking-Diffusion denoiser (LIF, T = 4).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def networks():
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.plugin_api.neuron import neuron_maker

    p = plugins.get()
    unet = dict(img_ch=1, img_size=32, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, dropout=0.0)

    def make(backbone, neuron, T=4, **config):
        torch.manual_seed(0)
        maker = neuron_maker(p.neuron.get(neuron), T) if neuron else None
        return p.backbone.get(backbone)(maker, **config).eval()

    return {
        "sdm/if": (make("sdm-unet", "if", **unet), "image"),
        "sdm/tsm": (make("sdm-unet", "tsm", **unet), "image"),
        "sdm-ann": (make("sdm-unet", None, **unet), "image"),
        "spiking-diffusion/lif": (make("sdid", "lif", num_codes=128, num_tokens=49), "tokens"),
    }


def inputs(kind: str, batch: int):
    g = torch.Generator().manual_seed(0)
    t = torch.randint(1, 900, (batch,), generator=g)
    if kind == "image":
        return torch.randn(batch, 1, 32, 32, generator=g), t
    return torch.randint(0, 129, (batch, 7, 7), generator=g), torch.randint(1, 49, (batch,), generator=g)


def counters():
    from sdmbench.energy import EnergyCounter

    found = {"sdmbench": EnergyCounter, "sdmbench_no_additions": lambda net: EnergyCounter(net, additions=False)}
    try:
        from spikingjelly.activation_based import op_counter as oc

        found["spikingjelly"] = lambda net: oc.DispatchCounterMode([oc.MACCounter(), oc.SynOpCounter()])
    except ImportError:
        pass
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20,
                    help="denoising steps per counter entry (the sampling pass: one entry per batch of sample_steps)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--network", action="append", help="time only these networks (repeatable; default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    nets = networks()
    unknown = sorted(set(args.network or ()) - set(nets))
    if unknown:
        ap.error(f"unknown network {unknown[0]}; networks: {', '.join(nets)}")
    for name in args.network or nets:
        net, kind = nets[name]
        x = inputs(kind, args.batch)
        times = {"bare": []}
        ways = {"bare": None, **counters()}
        with torch.no_grad():
            net(*x)  # warm-up
            for _ in range(args.repeats):
                for way, make in ways.items():
                    start = time.perf_counter()
                    if make is None:
                        for _ in range(args.steps):
                            net(*x)
                    else:
                        with make(net):
                            for _ in range(args.steps):
                                net(*x)
                    times.setdefault(way, []).append((time.perf_counter() - start) / args.steps)
        bare = statistics.median(times["bare"])
        results[name] = {"step_s": bare, **{f"{w}_ratio": statistics.median(v) / bare
                                             for w, v in times.items() if w != "bare"}}
        print(name, json.dumps({k: round(v, 3) for k, v in results[name].items()}), flush=True)
    print(json.dumps({"batch": args.batch, "steps": args.steps, "repeats": args.repeats,
                      "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
