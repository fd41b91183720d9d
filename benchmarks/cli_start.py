"""What a command costs before it does anything: ``python -m sdmbench version``
(torch, the core and every installed plugin loaded and its contract probed)
against ``python -c "import torch"`` alone, in one process's loop,
alternating, medians of ``--repeats``. The tests start the command line
some hundreds of times, so its start is a large share of the suite.

    python benchmarks/cli_start.py [--repeats 7] [--reference CLONE]

``--reference CLONE`` times the same command from another checkout (an
older commit, say) in the same loop, with that checkout's code and
plugins first on the path. Prints each median in seconds and its ratio to
``import torch``; ``--json`` prints them as JSON instead.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TORCH = [sys.executable, "-c", "import torch"]
SDMBENCH = [sys.executable, "-m", "sdmbench", "version"]


def checkout_env(root: Path) -> dict:
    """The environment that runs ``root``'s sdmbench and plugins ahead of any installed one."""
    path = os.pathsep.join([str(root), str(root / "plugins"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def seconds(command: list, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env)
    if done.returncode:
        raise SystemExit(f"error: {' '.join(command)} failed: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference", type=Path, help="another checkout whose start is timed beside this one's")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("error: --repeats must be at least 1")
    if args.reference and not (args.reference / "sdmbench" / "__init__.py").is_file():
        raise SystemExit(f"error: --reference {args.reference} is not an sdmbench checkout")
    here = checkout_env(Path(__file__).resolve().parents[1])
    cases = {"import torch": (TORCH, here), "sdmbench version": (SDMBENCH, here)}
    if args.reference:
        cases["sdmbench version (reference)"] = (SDMBENCH, checkout_env(args.reference.resolve()))
    times = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, (command, env) in cases.items():
            times[name].append(seconds(command, env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["import torch"]
    result = {name: {"median_s": round(m, 3), "ratio_to_import_torch": round(m / base, 2)}
              for name, m in medians.items()}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for name, r in result.items():
        print(f"{name:30s} {r['median_s']:6.2f} s   {r['ratio_to_import_torch']:5.2f}x import torch")


if __name__ == "__main__":
    main()
