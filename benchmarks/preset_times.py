"""How long the presets take here, against the time budgets README states.

    python benchmarks/preset_times.py                  # smoke presets of sdm/if and sdm-ann
    python benchmarks/preset_times.py --quick          # + the quick presets (about 15 min each on 2 cores)

Pass/fail tests assert no wall time (a loaded machine must pass the suite,
only slower); the budgets live here. Each run is timed as a user runs it
(``sdmbench run`` in a subprocess, classifier cache warm), next to a fixed
baseline workload timed in the same session (200 float32 512x512 matrix
products on the same threads), so a slow or loaded machine shows as a large
baseline, not as a broken preset. Printed per run: seconds, seconds / baseline,
and whether the budget (on an idle 2-core machine) was met; the 1-minute
load average and torch's thread count are printed too.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

BUDGETS_S = {"smoke": 90, "quick": 25 * 60}  # on an idle 2-core CPU machine
RUNS = [("sdm", "if"), ("sdm-ann", None)]


def baseline_seconds() -> float:
    """200 float32 512x512 matrix products: a fixed amount of dense work."""
    import torch

    a = torch.randn(512, 512)
    start = time.perf_counter()
    for _ in range(200):
        a = (a @ a).clamp_(-1, 1)
    return time.perf_counter() - start


def run_seconds(model: str, neuron: str | None, preset: str, results: str, data_root: str | None) -> float:
    cmd = [sys.executable, "-m", "sdmbench", "run", "--model", model, "--dataset", "fashion-mnist",
           "--preset", preset, "--results-dir", results]
    cmd += ["--neuron", neuron] if neuron else []
    cmd += ["--data-root", data_root] if data_root else []
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1]}")
    return time.perf_counter() - start


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="also time the quick presets")
    parser.add_argument("--data-root", help="where fashion-mnist lives (default: sdmbench's lookup)")
    args = parser.parse_args()
    presets = ["smoke", "quick"] if args.quick else ["smoke"]
    print(f"load average (1 min) {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads "
          f"{torch.get_num_threads()}")
    base = baseline_seconds()
    print(f"baseline workload: {base:.2f} s")
    with tempfile.TemporaryDirectory() as results:
        run_seconds("sdm", "if", "smoke", results, args.data_root)  # warm the classifier cache, untimed
        print(f"{'run':<28} {'seconds':>8} {'/ baseline':>11}  budget")
        for preset in presets:
            for model, neuron in RUNS:
                seconds = run_seconds(model, neuron, preset, results, args.data_root)
                label = f"{model}{'/' + neuron if neuron else ''} {preset}"
                verdict = "met" if seconds <= BUDGETS_S[preset] else f"over ({BUDGETS_S[preset]} s)"
                print(f"{label:<28} {seconds:8.1f} {seconds / base:11.1f}  {verdict}")


if __name__ == "__main__":
    main()
