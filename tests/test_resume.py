"""Mid-stage checkpoints: a killed run, resumed, ends with the same weights
as an uninterrupted one; a diverging run keeps its last good checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import configure_from as resolve
from sdmbench.errors import UsageError
from sdmbench.running.runner import execute

from conftest import SHARED_DATA, needs_shared_mnist

SETTINGS = dict(image_size=16, backbone=dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0), T=2,
                train_steps=100, checkpoint_every=25, batch_size=8, num_samples=8, sample_batch_size=8,
                sample_steps=2, reference_images=64, split="test", dataset="mnist", lr=1e-3, ema_decay=0.9)

CHILD = """
import json, sys
from sdmbench.plugin_api import loader as plugins
from sdmbench.running.configure import configure
from sdmbench.running.runner import execute
settings, flags = json.loads(sys.argv[1]), json.loads(sys.argv[2])
execute(configure(plugins.get(), flags, preset=settings), log=lambda *a: None)
"""


def weights(folder):
    return torch.load(folder / "stage-train.pt", weights_only=True)


@needs_shared_mnist
def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path, monkeypatch):
    flags = {"data_root": str(SHARED_DATA), "device": "cpu", "threads": 1}
    whole = execute(resolve(SETTINGS, {**flags, "results_dir": str(tmp_path / "whole")}), log=lambda *a: None).folder

    killed_dir = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(SETTINGS),
                              json.dumps({**flags, "results_dir": str(killed_dir)})])
    while not list(killed_dir.glob("*.incomplete/checkpoint-train.pt")):  # however slowly the machine runs
        assert child.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    [incomplete] = list(killed_dir.glob("*.incomplete"))
    saved = torch.load(incomplete / "checkpoint-train.pt", weights_only=True)
    assert 0 < saved["step"] < SETTINGS["train_steps"] and not (incomplete / "stage-train.pt").exists()

    config = resolve(json.loads((incomplete / "config.json").read_text()), {})
    resumed = execute(config, log=lambda *a: None, resume=incomplete).folder
    a, b = weights(whole), weights(resumed)
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    record = json.loads((resumed / "record.json").read_text())
    assert record["training"]["steps"] == SETTINGS["train_steps"]
    assert not incomplete.exists() and not (resumed / "checkpoint-train.pt").exists()


@needs_shared_mnist
def test_a_diverging_run_stops_with_a_clear_message_and_keeps_its_last_good_checkpoint(tmp_path, monkeypatch):
    from sdmbench_ddpm.process import GaussianDiffusion

    real_loss = GaussianDiffusion.loss
    calls = {"n": 0}

    def loss_that_explodes(self, backbone, x0, generator=None):
        calls["n"] += 1
        loss = real_loss(self, backbone, x0, generator=generator)
        return loss * float("nan") if calls["n"] > 60 else loss

    monkeypatch.setattr(GaussianDiffusion, "loss", loss_that_explodes)
    config = resolve(SETTINGS, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path), "device": "cpu"})
    with pytest.raises(UsageError, match=r"diverged.*step 60.*last good checkpoint \(step 50\)"):
        execute(config, log=lambda *a: None).folder
    [kept] = list(tmp_path.glob("*.incomplete"))
    assert torch.load(kept / "checkpoint-train.pt", weights_only=True)["step"] == 50


SMALL_RUN = ["run", "--model", "sdm", "--neuron", "if", "--dataset", "mnist", "--split", "test", "--preset", "smoke",
             "--train-steps", "100", "--batch-size", "8", "--T", "2", "--set", "backbone.ch=8",
             "--set", "checkpoint_every=1000", "--set", "log_every=1", "--num-samples", "8",
             "--set", "reference_images=64", "--sample-steps", "2", "--threads", "1", "--device", "cpu",
             "--data-root", str(SHARED_DATA)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """SMALL_RUN's folder, run from start to end without a signal."""
    from conftest import run_cli

    results = tmp_path_factory.mktemp("whole")
    code, _, err = run_cli(*SMALL_RUN, "--results-dir", str(results))
    assert code == 0, err
    [whole] = list(results.iterdir())
    return whole


@needs_shared_mnist
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_stage_saves_a_checkpoint_at_that_step_and_resumes_exactly(uninterrupted, tmp_path, signum):
    """No periodic checkpoint is due before the signal (every 1000 steps): the interrupt's own is the one."""
    from conftest import run_cli

    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.Popen([sys.executable, "-m", "sdmbench", *SMALL_RUN,
                              "--results-dir", str(tmp_path / "cut")], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    while True:  # wait until a few steps are logged, however slowly the machine runs
        logs = list((tmp_path / "cut").glob("*.incomplete/train_log.csv"))
        if logs and len(logs[0].read_text().splitlines()) > 8:
            break
        assert child.poll() is None, child.stderr.read()
        time.sleep(0.01)
    child.send_signal(signum)
    _, err = child.communicate()
    assert child.returncode == 130
    [line] = [l for l in err.splitlines() if l.strip()][-1:]
    [incomplete] = list((tmp_path / "cut").glob("*.incomplete"))
    assert line.endswith(f"continue with: sdmbench run --resume {incomplete}")
    step = torch.load(incomplete / "checkpoint-train.pt", weights_only=True)["step"]
    assert 8 <= step < 100 and f"at step {step}:" in line

    code, _, err = run_cli("run", "--resume", str(incomplete))
    assert code == 0, err
    [resumed] = [p for p in (tmp_path / "cut").iterdir() if not p.name.endswith(".incomplete")]
    a, b = weights(uninterrupted), weights(resumed)
    for part in ("model", "ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])
    rows = [l.split(",")[1] for l in (resumed / "train_log.csv").read_text().splitlines()[1:]]
    assert rows == [str(s) for s in range(1, 101)]  # the curve continues without gaps or duplicates


def test_the_first_signal_asks_for_a_stop_and_the_second_stops_at_once():
    from sdmbench.running import interrupt

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite itself runs in the background
    with interrupt.deferred():
        assert interrupt.requested() is None
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert interrupt.requested() == signal.SIGINT  # the loop sees it at the next step boundary
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    assert interrupt.requested() is None and signal.getsignal(signal.SIGINT) is before  # restored as it was
