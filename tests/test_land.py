"""Landing the study queue's runs (``studies/board/land.py``): it finds the finished runs the board lacks,
and pauses exactly the queue's running jobs while it scores, whatever happens meanwhile."""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("land", ROOT / "studies" / "board" / "land.py")
land = importlib.util.module_from_spec(spec)
spec.loader.exec_module(land)


def run_folder(work: Path, key: str, run_id: str) -> Path:
    folder = work / key / run_id
    folder.mkdir(parents=True)
    (folder / "record.json").write_text("{}")
    return folder


def test_only_finished_runs_the_board_lacks_are_landed_oldest_first(tmp_path):
    work, board = tmp_path / "work", tmp_path / "board"
    late = run_folder(work, "plif-s2", "sdm-plif-fashion-mnist-quick-20261207-010000-aaaaaa")
    early = run_folder(work, "tsm-analog-s2", "sdm-tsm-fashion-mnist-quick-20261206-230000-ffffff")
    run_folder(work, "tsm-x4", "sdm-tsm-fashion-mnist-quick-20261206-220000-bbbbbb.incomplete")  # running
    (work / "plif-analog-s2" / "sdm-plif-fashion-mnist-quick-20261206-200000-cccccc").mkdir(parents=True)  # no record
    landed = run_folder(work, "plif-s1", "sdm-plif-fashion-mnist-quick-20261206-063205-19c1b5")
    (board / landed.name).mkdir(parents=True)  # already on the board
    assert land.to_land(work, board) == [("tsm-analog-s2", early), ("plif-s2", late)]


def state(pid: int) -> str:
    """The process's state letter from /proc (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def fake_queue(tmp_path):
    """A driver and a job as gpu_grid.py starts them (the job in its own session, a relative
    --results-dir read from the work folder's parent), and an unrelated sdmbench run elsewhere."""
    work = tmp_path / "q" / "work"
    work.mkdir(parents=True)
    sleep = "import time; time.sleep(60)"
    procs = {
        "driver": subprocess.Popen([sys.executable, "-c", sleep, str(ROOT / "studies/board/gpu_grid.py"),
                                    "--work", str(work)]),
        "job": subprocess.Popen([sys.executable, "-c", sleep, "sdmbench", "run", "--results-dir", "work/tsm-x4"],
                                cwd=work.parent, start_new_session=True),
        "other": subprocess.Popen([sys.executable, "-c", sleep, "sdmbench", "run", "--results-dir",
                                   str(tmp_path / "elsewhere")], start_new_session=True),
    }
    time.sleep(0.5)
    yield work, procs
    for proc in procs.values():
        proc.kill()
        proc.wait()


def test_the_queue_is_its_driver_and_its_jobs_and_nothing_else(fake_queue):
    work, procs = fake_queue
    found = land.queue_processes(work)
    assert {pid: kind for pid, kind in found.items()} == {procs["driver"].pid: "driver", procs["job"].pid: "job"}
    assert land.queue_jobs(work) == [os.getpgid(procs["job"].pid)]


def test_the_job_is_stopped_while_landing_and_goes_on_after_even_when_landing_fails(fake_queue):
    work, procs = fake_queue
    job, other = procs["job"].pid, procs["other"].pid
    with pytest.raises(RuntimeError):
        with land.paused(land.queue_jobs(work)):
            time.sleep(0.2)
            assert state(job) == "T" and state(other) != "T" and state(procs["driver"].pid) != "T"
            raise RuntimeError("scoring failed")
    time.sleep(0.2)
    assert state(job) != "T"


def test_landing_refuses_folders_that_are_not_there(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "studies/board/land.py"), "--work", str(tmp_path / "no"),
                           "--board", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "must both be folders" in done.stderr
