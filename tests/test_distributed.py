"""Runs under torchrun (gloo, CPU, 2 processes): training equals one process
on the same global batch, sharded sampling gives the same samples and FID,
only rank 0 writes, and a dead rank stops the run with a resumable checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SHARED_DATA, needs_shared_mnist, run_cli

TINY = ["--dataset", "mnist", "--split", "test", "--data-root", str(SHARED_DATA), "--preset", "smoke",
        "--num-samples", "32", "--set", "sample_batch_size=8", "--set", "reference_images=256"]
ENV = {"OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def torchrun(*args, nproc=2, timeout=None):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "-m", "sdmbench", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ENV}, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def records(folder: Path):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/record.json"))]


def one_record(folder: Path):
    (record,) = records(folder)
    return record


pytestmark = [needs_shared_mnist]


@pytest.mark.parametrize("model,tolerance", [
    ("sdm-ann", 1e-5),  # real-valued: DDP's averaged gradient is the one-process gradient up to float rounding
    # spiking: float-rounding differences of the synchronised BatchNorm flip a few spikes, and Adam turns
    # the sign of near-zero gradients into full-size steps, so the runs drift apart a little
    pytest.param("sdm", 0.05, marks=pytest.mark.slow),  # slow: the default suite's 10-minute budget
])
def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path, model, tolerance):
    args = ["run", "--model", model, *TINY, "--train-steps", "6"]
    code, _, err = torchrun(*args, "--results-dir", str(tmp_path / "ddp"))
    assert code == 0, err[-3000:]
    code, _, err = run_cli(*args, "--results-dir", str(tmp_path / "one"), env=ENV)
    assert code == 0, err
    ddp, one = one_record(tmp_path / "ddp"), one_record(tmp_path / "one")
    folder = tmp_path / "ddp" / ddp["run_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "record.json", "samples.npz", "samples.png",
                                                        "stage-train.pt", "tensorboard", "train_log.csv"]
    assert ddp["distributed"] == {"world_size": 2, "backend": "gloo", "global_batch_size": 32,
                                  "per_rank_batch_size": 16, "lr": 2e-3, "sync_batchnorm": True}
    assert one["distributed"]["world_size"] == 1
    assert ddp["training"]["final_loss"] == pytest.approx(one["training"]["final_loss"], rel=tolerance)


def trained_run(tmp_path):
    """A 2-step ``sdm`` run made in one process, to sample again from."""
    code, _, err = run_cli("run", "--model", "sdm", *TINY, "--train-steps", "2",
                           "--results-dir", str(tmp_path / "trained"), env=ENV)
    assert code == 0, err
    return tmp_path / "trained" / one_record(tmp_path / "trained")["run_id"]


def test_sharded_sampling_gives_the_one_process_samples_and_fid(tmp_path):
    trained = trained_run(tmp_path)
    code, _, err = torchrun("run", "--resume", str(trained), "--results-dir", str(tmp_path / "ddp"))
    assert code == 0, err[-3000:]
    code, _, err = run_cli("run", "--resume", str(trained), "--results-dir", str(tmp_path / "one"), env=ENV)
    assert code == 0, err
    ddp, one = one_record(tmp_path / "ddp"), one_record(tmp_path / "one")
    # 4 batches of 8: rank 0 makes batches 0 and 2, rank 1 batches 1 and 3; rank 0 scores all 32
    assert ddp["metrics"]["fid"] == pytest.approx(one["metrics"]["fid"], rel=1e-6)
    # every batch is counted: the two ranks' counts add up to the one process's
    assert ddp["details"]["energy"]["observed_images"] == one["details"]["energy"]["observed_images"] == 32
    assert ddp["details"]["energy"]["batches"] == one["details"]["energy"]["batches"] == 4
    assert ddp["details"]["energy"]["counts"] == pytest.approx(one["details"]["energy"]["counts"], rel=1e-9)
    assert ddp["metrics"]["energy_per_image_mj"] == pytest.approx(one["metrics"]["energy_per_image_mj"], rel=1e-9)


@pytest.mark.slow  # the default suite's 10-minute budget
def test_one_batch_for_two_ranks_is_made_by_rank_0(tmp_path):
    trained = trained_run(tmp_path)
    # one batch for two ranks (all 32 samples in one batch): rank 1 makes none, rank 0 all of it
    one_batch = ["--set", "sample_batch_size=32"]
    code, _, err = torchrun("run", "--resume", str(trained), *one_batch, "--results-dir", str(tmp_path / "ddp1"))
    assert code == 0, err[-3000:]
    code, _, err = run_cli("run", "--resume", str(trained), *one_batch, "--results-dir", str(tmp_path / "one1"),
                           env=ENV)
    assert code == 0, err
    ddp, one = one_record(tmp_path / "ddp1"), one_record(tmp_path / "one1")
    assert ddp["metrics"]["fid"] == pytest.approx(one["metrics"]["fid"], rel=1e-6)
    assert ddp["details"]["energy"]["observed_images"] == one["details"]["energy"]["observed_images"] == 32


def _rank_pids(rank: int):
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"sdmbench" in cmdline and b"torch.distributed.run" not in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_dead_rank_stops_the_run_with_a_resumable_checkpoint(tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sdmbench", "run", "--model", "sdm", *TINY, "--train-steps", "400",
           "--set", "checkpoint_every=5", "--results-dir", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **ENV, "SDMBENCH_TEST_MARK": str(tmp_path)})
    try:
        while not list(results.glob("*.incomplete/checkpoint-train.pt")):  # however slowly the machine runs
            assert proc.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.5)
        victims = [p for p in _rank_pids(1) if str(tmp_path).encode() in Path(f"/proc/{p}/environ").read_bytes()]
        assert victims, "rank 1 not found"
        os.kill(victims[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=1800)  # the whole run stops: a guard against a hang, not a speed test
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "continue with --resume" in err
    (folder,) = results.glob("*.incomplete")
    assert (folder / "checkpoint-train.pt").is_file() and not list(results.glob("*/record.json"))
    code, _, err = run_cli("run", "--resume", str(folder), "--train-steps", "12", env=ENV)
    assert code == 0, err
    (record,) = [r for r in records(results)]
    assert record["training"]["steps"] == 12 and record["resumed_from"] == str(folder)


def test_sigterm_to_one_rank_stops_both_at_one_step_with_a_checkpoint_there(tmp_path):
    """A preempting scheduler's SIGTERM reaches one rank: the flag joins the per-step all-reduce, both ranks
    stop after the same step, rank 0 saves the checkpoint at it and says how to resume."""
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sdmbench", "run", "--model", "sdm-ann", *TINY, "--train-steps", "400",
           "--set", "checkpoint_every=1000", "--set", "log_every=1", "--results-dir", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **ENV, "SDMBENCH_TEST_MARK": str(tmp_path)})
    try:
        while True:  # a few steps logged, however slowly the machine runs
            logs = list(results.glob("*.incomplete/train_log.csv"))
            if logs and len(logs[0].read_text().splitlines()) > 4:
                break
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            time.sleep(0.2)
        victims = [p for p in _rank_pids(1) if str(tmp_path).encode() in Path(f"/proc/{p}/environ").read_bytes()]
        assert victims, "rank 1 not found"
        os.kill(victims[0], signal.SIGTERM)
        _, err = proc.communicate(timeout=1800)  # a guard against a hang, not a speed test
    finally:
        if proc.poll() is None:
            proc.kill()
    folders = list(results.glob("*.incomplete"))
    assert len(folders) == 1, err[-3000:]
    (folder,) = folders
    step = __import__("torch").load(folder / "checkpoint-train.pt", weights_only=True)["step"]
    assert 4 <= step < 400
    assert f"SIGTERM at step {step}: saved a checkpoint at that step; continue with: sdmbench run --resume" in err
