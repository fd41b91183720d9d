"""Run a list of quick-preset runs concurrently on one GPU, then pack what finished.

The board re-run (issue 31) and the compute and variant studies (issue 33)
are 38 small runs; one run leaves an H200 mostly idle (batches of 16-32
images of 32 x 32), so ``--workers`` of them share it, longest first
(longest-processing-time order keeps the tail short). Measured on an H200
with 16 cores (2026-12-04): 14 concurrent runs time-slice the GPU so badly
that no sdm run (1000 steps x T = 4) finished in 510 s, while 5 concurrent
runs finished sdm/tsm at 500 steps in 114 s and 7 finished sdm-ann's 2000
steps, sampling included, in 120-129 s; hence 7 workers by default. Each run trains and
samples on the GPU and counts energy there (``--metrics energy``); FID, KID,
precision and recall are scored afterwards on a CPU with the pinned
extractors (``sdmbench score``), so the GPU never defines the ruler.

At ``--deadline`` seconds the runs still going are stopped (their
``.incomplete`` folders keep their last checkpoint), and every finished run
folder, without its weights (``*.pt``), is packed into
``OUT/runs.tar.gz.part-*`` (at most 15 MiB each) with ``OUT/grid.log``.

    python studies/board/gpu_grid.py --grid board,study --out $OUT --deadline 480

Unpack on the CPU side with ``cat runs.tar.gz.part-* | tar xz``.

SIGTERM or Ctrl-C to the queue stops it the same way before its deadline: each run it started (in a
session of its own, so a terminal's Ctrl-C never reaches it) gets SIGTERM, saves a checkpoint at its
step and exits; the queue packs and exits with status 130, and called again it resumes them.

The same script is the CPU queue (one run at a time, 2 threads, in a given order); called again on the
same ``--work`` folder it skips finished runs and resumes cut-off ones, and with ``--skip-published``
it also skips every run the board already holds (same settings, same device kind), so a fresh
machine needs no list of what is left:

    python studies/board/gpu_grid.py --grid study --device cpu --workers 1 --threads 2 --keep-order \
        --skip-published leaderboard --work /work/queue/work --out /work/queue/out --deadline 1e9

A CPU queue of bf16 runs (the quick presets') refuses to start (exit 2) where bfloat16 is emulated
(torch's cpuinfo finds no AVX512-BF16 or AMX, and a bf16 convolution on one thread takes over 1.5x its
fp32 time): there they run many times slower and measure CPU seconds no other point of the study shares.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from sdmbench.running import interrupt
from sdmbench.running.records import load_records

COMMON = ["--dataset", "fashion-mnist", "--metrics", "energy"]
POLL_S = 1.0  # how often the queue looks at its runs: a run is minutes, so a second is nothing
STOP_S = 120.0  # how long a stopped run may take to finish its step and save its checkpoint
ANN_STEPS, SDM_STEPS = 2000, 1000  # the quick presets' training steps (sdm-ann: batch 16; sdm: 32)


def board() -> list:
    """Issue 31: five seeds of the U-Net entries, three of the two longer pipelines (cost in sdm-1x units)."""
    runs = []
    for seed in range(5):
        runs.append((f"ann-s{seed}", 0.6, ["--model", "sdm-ann", "--seed", str(seed)]))
        for neuron in ("if", "tsm"):
            runs.append((f"sdm-{neuron}-s{seed}", 1.0, ["--model", "sdm", "--neuron", neuron, "--seed", str(seed)]))
    for seed in range(3):
        runs.append((f"sd-lif-s{seed}", 2.0, ["--model", "spiking-diffusion", "--neuron", "lif", "--seed", str(seed)]))
        runs.append((f"conv-s{seed}", 0.9, ["--model", "sdm-converted", "--set", "fine_tune=true",
                                            "--seed", str(seed)]))
    return runs


# the board re-run on a CPU (one run at a time): the spiking U-Net seeds first (the papers' claims), then the
# ANN and Spiking-Diffusion again on the same device (their GPU runs were counted before spikes were decided
# by provenance, and the SNN/ANN ratio is cleaner with every entry on one device), then the converted network
CPU_QUEUE = ("sdm-tsm-s0,sdm-if-s0,sdm-tsm-s1,sdm-if-s1,sdm-tsm-s2,sdm-if-s2,ann-s0,ann-s1,ann-s2,ann-s3,ann-s4,"
             "sdm-tsm-s3,sdm-if-s3,sdm-tsm-s4,sdm-if-s4,sd-lif-s0,sd-lif-s1,sd-lif-s2,conv-s0,conv-s1,conv-s2")


def study() -> list:
    """Issue 33: both sides of the compute curve off 1x (seed 0), and the variant ablation (3 seeds), then
    the analog stem's seeds 3 and 4: its third seed scored worse than every faithful seed after two that
    closed 67% of the gap, so it gets the faithful network's five (last, after the ablation's own three)."""
    runs = []
    for scale in (0.25, 0.5, 2, 4):
        runs.append((f"ann-x{scale}", 0.6 * scale, ["--model", "sdm-ann", "--seed", "0",
                                                    "--train-steps", str(int(ANN_STEPS * scale)),
                                                    "--set", "study=compute-scaling"]))
        runs.append((f"tsm-x{scale}", scale, ["--model", "sdm", "--neuron", "tsm", "--seed", "0",
                                              "--train-steps", str(int(SDM_STEPS * scale)),
                                              "--set", "study=compute-scaling"]))
    variants = {"tsm-analog": ("tsm", "analog"), "plif": ("plif", "spiking"), "plif-analog": ("plif", "analog")}
    ablation = [(name, seed) for name in variants for seed in range(3)] + [("tsm-analog", 3), ("tsm-analog", 4)]
    for name, seed in ablation:
        neuron, stem = variants[name]
        runs.append((f"{name}-s{seed}", 1.0, ["--model", "sdm", "--neuron", neuron, "--seed", str(seed),
                                              "--set", f"backbone.stem={stem}", "--set", "study=spiking-variant"]))
    return runs


def wanted(args: list) -> dict:
    """The config fields a grid run's arguments fix: ``--model/--neuron/--seed/--train-steps`` and every
    ``--set key=value``; ``study`` is None unless set, so a board run never matches a study run."""
    fields, it = {"study": None}, iter(args)
    for flag in it:
        value = next(it)
        if flag == "--set":
            key, _, value = value.partition("=")
            fields[key] = value
        else:
            fields[flag[2:].replace("-", "_")] = value
    return fields


def config_value(config: dict, key: str):
    """``key`` (dotted for nested settings) in a record's config; a model's own option under ``options``."""
    node = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if node is not None or "." in key else config.get("options", {}).get(key)


def same(value, text) -> bool:
    if text is None:
        return value is None
    return (str(value).lower() if isinstance(value, bool) else str(value)) == text


def published(runs: list, board: Path, device: str, preset: str) -> dict:
    """``{key: run_id}`` for each grid run whose settings a record on ``board`` already has, trained on the
    same kind of device (``cuda`` matches ``cuda:0``)."""
    records, _ = load_records(board)
    kind = device.split(":")[0]
    done = {}
    for key, _, args in runs:
        want = dict(wanted(args), dataset=COMMON[1], preset=preset)
        for record in records:
            config = record["config"]
            if (str(config.get("device", "")).split(":")[0] == kind
                    and all(same(config_value(config, k), v) for k, v in want.items())):
                done[key] = record["run_id"]
                break
    return done


def precision(args: list, preset: str) -> str:
    """The precision a grid run trains in: its model's ``preset`` with its arguments (``--set`` included)."""
    from sdmbench.plugin_api import loader
    from sdmbench.running.config import parse_settings
    from sdmbench.running.configure import configure
    fields = wanted(args)
    flags = {"model": fields.pop("model"), "neuron": fields.pop("neuron", None), "preset": preset,
             "dataset": COMMON[1]}
    settings = parse_settings([f"{k}={v}" for k, v in fields.items() if k not in ("seed", "train_steps", "study")])
    return configure(loader.get(), flags, settings).precision


def refuse_emulated_bf16(device: str, precisions) -> None:
    """Exit 2 before a CPU queue starts where bfloat16 is emulated and a run of it trains in bf16
    (see the module's docstring)."""
    if device != "cpu" or "bf16" not in precisions:
        return
    from sdmbench.hardware.precision import bf16_emulated
    slowdown = bf16_emulated()
    if slowdown:
        print(f"error: this CPU emulates bfloat16 (a bf16 convolution took {slowdown:.0f}x its fp32 time; "
              "`lscpu` lists no avx512_bf16 or amx): this queue's bf16 runs would take many times as long "
              "and measure CPU seconds no other study point shares; run the queue on a CPU with native bf16, "
              "or on a GPU (--device cuda)", file=sys.stderr)
        sys.exit(2)


def launch(key: str, args: list, work: Path, a: argparse.Namespace, logs: Path) -> subprocess.Popen:
    """Start run ``key``; where a cut-off folder of it survives (``.incomplete``), resume that one instead.

    A resumed run loses at most its last ``checkpoint_every`` steps (issue 33, item 3)."""
    cut = sorted((work / key).glob("*.incomplete"))
    data = ["--data-root", a.data_root] if a.data_root else []
    if cut:
        cmd = [sys.executable, "-m", "sdmbench", "run", "--resume", str(cut[-1]), "--threads", str(a.threads),
               "--device", a.device, *data]
    else:
        cmd = [sys.executable, "-m", "sdmbench", "run", *COMMON, "--preset", a.preset, "--threads", str(a.threads),
               *args, "--device", a.device, *data, "--results-dir", str(work / key)]
    log = open(logs / f"{key}.log", "a")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="120"))


def finished(work: Path) -> list:
    return sorted(p for p in work.glob("*/*") if p.is_dir() and not p.name.endswith(".incomplete"))


def pack(work: Path, logs: Path, out: Path) -> list:
    """Finished run folders (no weights) and every log into ``out/runs.tar.gz``, split in 15 MiB parts.

    Packed again after every finished run (built aside, then moved in), so a call cut short by the
    machine's own limit still brings back every run that had finished."""
    done = finished(work)
    aside = work.parent / "pack"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    archive = aside / "runs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for run in done:
            tar.add(run, arcname=f"runs/{run.parent.name}/{run.name}",
                    filter=lambda info: None if info.name.endswith(".pt") else info)
        tar.add(logs, arcname="logs")
    subprocess.run(["split", "-b", "15M", "-d", str(archive), str(archive) + ".part-"], check=True)
    archive.unlink()
    for old in out.glob("runs.tar.gz.part-*"):
        old.unlink()
    for part in sorted(aside.iterdir()):
        shutil.move(str(part), out / part.name)
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default="board,study")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-root", default=None, help="default: sdmbench's own search (the Debian package)")
    ap.add_argument("--workers", type=int, default=7)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (a CPU queue: 2)")
    ap.add_argument("--work", default="/tmp/gpu-grid/work", help="where run folders are made")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--keep-order", action="store_true",
                    help="run --only's keys in the order given (without --only: the grid's order)")
    ap.add_argument("--only", default="", help="comma-separated run keys (default: the whole grid)")
    ap.add_argument("--deadline", type=float, default=480.0, help="seconds before stopping and packing")
    ap.add_argument("--skip-published", default=None, metavar="BOARD",
                    help="skip runs whose settings a record in BOARD (e.g. leaderboard) already has")
    a = ap.parse_args()
    out, t0 = Path(a.out), time.monotonic()
    work = Path(a.work)
    logs = work.parent / "logs"
    runs = [r for g in a.grid.split(",") for r in {"board": board, "study": study}[g]()]
    a.only = CPU_QUEUE if a.only == "cpu" else a.only
    runs = [r for r in runs if not a.only or r[0] in a.only.split(",")]
    refuse_emulated_bf16(a.device, {precision(args, a.preset) for _, _, args in runs})
    work.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    runs = [r for r in runs if not any(d.parent.name == r[0] for d in finished(work))]  # a second call goes on
    on_board = published(runs, Path(a.skip_published), a.device, a.preset) if a.skip_published else {}
    runs = [r for r in runs if r[0] not in on_board]
    order = a.only.split(",") if a.only else []
    if a.keep_order:  # --only's order, or the grid's own
        queue = sorted(runs, key=lambda r: order.index(r[0])) if order else list(runs)
    else:
        queue = sorted(runs, key=lambda r: -r[1])  # longest first
    running: dict = {}
    failed: list = []
    with open(out / "grid.log", "w") as grid_log:
        def say(msg: str) -> None:
            grid_log.write(f"{time.monotonic() - t0:7.1f}s {msg}\n")
            grid_log.flush()
            print(f"{time.monotonic() - t0:7.1f}s {msg}", flush=True)

        for key, run_id in on_board.items():
            say(f"skip {key}: on the board as {run_id}")

        with interrupt.deferred():
            try:
                run_queue(queue, running, failed, work, a, logs, out, say, t0)
            except KeyboardInterrupt:  # a second signal: stop waiting for the next poll
                pass
            why = interrupt.requested()
        stop(running, say, signal.Signals(why).name if why else "the deadline")
        say(f"not started: {', '.join(k for k, _, _ in queue) or 'none'}")
        done = pack(work, logs, out)
        say(f"packed {len(done)} finished runs")
    if why:
        sys.exit(130)


def run_queue(queue, running, failed, work, a, logs, out, say, t0) -> None:
    """Start runs while fewer than ``a.workers`` run, until the queue is empty, the deadline passes or a
    signal asks the queue to stop; pack after each run that ends."""
    while (queue or running) and time.monotonic() - t0 < a.deadline and not interrupt.requested():
        if len(failed) >= 3 and not finished(work):
            say("three runs failed and none finished: stopping")  # a broken setup, not a slow run
            queue.clear()
            break
        while queue and len(running) < a.workers:
            key, _, args = queue.pop(0)
            running[key] = launch(key, args, work, a, logs)
            say(f"start {key}")
        for key, proc in list(running.items()):
            if proc.poll() is not None:
                say(f"end {key} rc={proc.returncode}")
                del running[key]
                if proc.returncode:
                    failed.append(key)
                    print((logs / f"{key}.log").read_text()[-1500:], flush=True)
                say(f"packed {len(pack(work, logs, out))} finished runs")
        time.sleep(POLL_S)


def stop(running: dict, say, why: str) -> None:
    """SIGTERM to each running run's process group (it saves a checkpoint at its step and exits), then
    wait up to ``STOP_S`` for each; one still going after that is killed (its last checkpoint stays)."""
    for key, proc in running.items():
        os.killpg(proc.pid, signal.SIGTERM)
        say(f"stopped {key} ({why})")
    for key, proc in running.items():
        try:
            proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            say(f"killed {key}: it did not stop within {STOP_S:.0f} s")


if __name__ == "__main__":
    main()
