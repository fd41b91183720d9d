"""Land the CPU queue's finished runs on the board, one at a time, with the queue paused.

For each finished run folder under ``--work`` (``WORK/KEY/RUN``, as ``gpu_grid.py`` makes them; a
``.incomplete`` one is still running or was cut off) whose run id the board lacks:

1. pause the queue's running job (SIGSTOP to its process group), so the CPU seconds its record
   counts are its own work only: beside scoring, OpenMP's spin-waits inflated a run's CPU seconds
   1.4-2.5x per step (docs/spiking-gap.md);
2. score the run under both pinned extractors (``sdmbench score --extractor ...``);
3. publish it (``sdmbench publish``: verify, copy record, samples and curve to the board, write the
   board's README anew);
4. rebuild the board's site as the documented command does, and rerun the study's analyses
   on the board (:data:`ANALYSES`: the curve under both extractors, the ablation, the figure; they write
   ``docs/studies/``, which the test suite checks against the board);
5. let the job go on (SIGCONT, also when a step failed), and with ``--commit`` commit the board and
   ``docs/studies/`` (the prose of ``docs/spiking-gap.md`` and README is still read and written by hand).

    python studies/board/land.py --work /work/queue/work --board leaderboard --commit --watch 60

``--watch N`` polls every N seconds until the queue (its driver and its jobs) has ended and nothing is
left to land.
A step that fails stops the landing with its output and exit status 1; the queue goes on, and the
run stays in ``--work`` to land again.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

RECORD = "record.json"
EXTRACTORS = ("classifier", "classifier-resnet")  # the study's two pinned rulers (docs/extractors.md)
ROOT = Path(__file__).resolve().parents[2]
STUDIES = Path("docs") / "studies"
#: docs/spiking-gap.md's "How it is run" commands, each given the board (``{board}``), run from the repository
ANALYSES = (
    ("studies/scaling/compute_scaling.py", "{board}"),
    ("studies/scaling/compute_scaling.py", "{board}", "--extractor", "classifier",
     "--out", str(STUDIES / "compute_scaling_classifier")),
    ("studies/scaling/variant_ablation.py", "{board}"),
    ("studies/scaling/spiking_gap.py",),
)


def to_land(work: Path, board: Path) -> List[Tuple[str, Path]]:
    """``(key, run folder)`` of each finished run under ``work`` whose folder name the board lacks, oldest
    run id first (run ids start with their date and time)."""
    done = sorted((p for p in work.glob(f"*/*/{RECORD}") if not p.parent.name.endswith(".incomplete")),
                  key=lambda p: p.parent.name.rsplit("-", 3)[-3:])
    return [(p.parent.parent.name, p.parent) for p in done if not (board / p.parent.name).exists()]


def queue_processes(work: Path) -> Dict[int, str]:
    """``{pid: "driver" or "job"}`` of the queue on ``work``, read off ``/proc``: ``gpu_grid.py`` with that
    ``--work`` (the driver) and each ``sdmbench run`` writing under it (a job); relative paths are read
    from each process's own working folder."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            pid = int(cmdline.parent.name)
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except (OSError, ValueError):
            continue  # the process ended while being read, or is not ours to read
        paths = [(cwd / a).resolve() for a in args if a and not a.startswith("-")]
        if any(p.name == "gpu_grid.py" for p in paths) and work in paths:
            found[pid] = "driver"
        elif "sdmbench" in {Path(a).name for a in args} and "run" in args and any(work in p.parents for p in paths):
            found[pid] = "job"
    return found


def queue_jobs(work: Path) -> List[int]:
    """Process groups of the queue's running jobs (``gpu_grid.py`` starts each in its own session)."""
    mine, groups = os.getpgid(0), set()
    for pid, kind in queue_processes(work).items():
        with contextlib.suppress(OSError):
            if kind == "job" and os.getpgid(pid) != mine:
                groups.add(os.getpgid(pid))
    return sorted(groups)


@contextlib.contextmanager
def paused(groups: List[int]) -> Iterator[None]:
    """SIGSTOP each process group for the block's length, SIGCONT after it, whatever the block raised."""
    stopped = []
    try:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGSTOP)
                stopped.append(group)
        yield
    finally:
        for group in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGCONT)


def python(*args: str, cwd: Path | None = None) -> str:
    """``python ARGS``; its stdout, or SystemExit(1) with its output when it fails."""
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, COLUMNS="120"))
    if done.returncode:
        print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"land: `python {' '.join(args)}` failed (exit {done.returncode}); the run stays in "
                         "its folder to land again")
    return done.stdout


def sdmbench(*args: str) -> str:
    return python("-m", "sdmbench", *args)


def analyse(board: Path) -> None:
    """Rerun :data:`ANALYSES` on ``board`` from the repository, so ``docs/studies/`` says what it holds."""
    for command in ANALYSES:
        python(*(part.format(board=board.resolve()) for part in command), cwd=ROOT)


def land(run: Path, board: Path, data_root: str | None) -> None:
    """Score ``run`` under :data:`EXTRACTORS`, publish it on ``board``, rebuild the board's README and site, rerun
    the study's analyses on it."""
    data = ["--data-root", data_root] if data_root else []
    for extractor in EXTRACTORS:
        sdmbench("score", str(run), "--extractor", extractor, *data)
    sdmbench("publish", str(run), str(board), *data)  # which writes the board's README anew
    sdmbench("leaderboard", "--results-dir", str(board), "--format", "html", "--out", str(board / "site"))
    analyse(board)


def commit(board: Path, landed: List[Tuple[str, Path]]) -> None:
    runs = " ".join(f"{key}:{run.name}" for key, run in landed)
    subprocess.run(["git", "add", "-A", str(board), str(ROOT / STUDIES)], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"Study runs landed: {runs} (scored under "
                    f"{' and '.join(EXTRACTORS)}, published with samples and curve; board README and site "
                    f"rebuilt, {STUDIES} rerun)"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="the queue's --work folder")
    ap.add_argument("--board", default="leaderboard")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--commit", action="store_true", help="commit the board after each run lands")
    ap.add_argument("--watch", type=float, default=0, help="poll every N seconds until the queue is done")
    a = ap.parse_args()
    work, board = Path(a.work).resolve(), Path(a.board)
    if not work.is_dir() or not board.is_dir():
        print(f"error: --work {work} and --board {board} must both be folders", file=sys.stderr)
        sys.exit(2)
    while True:
        for key, run in to_land(work, board):
            start = time.monotonic()
            with paused(queue_jobs(work)):
                land(run, board, a.data_root)
            print(f"landed {key}: {run.name} ({time.monotonic() - start:.0f} s, queue paused)", flush=True)
            if a.commit:
                commit(board, [(key, run)])
        if not a.watch or not queue_processes(work) and not to_land(work, board):
            return
        time.sleep(a.watch)


if __name__ == "__main__":
    main()
