"""Fail before the work, run no code from data, lose nothing: the mistakes a
user makes at 2 a.m., each reproduced."""
from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys

import pytest
import torch

from sdmbench.board import leaderboard

from sdmbench.plugin_api import loader as plugins
from sdmbench.running.checkpoint import StepCheckpoint, load_state
from sdmbench.running.configure import configure
from sdmbench.errors import UsageError
from sdmbench.running.records import write_json_atomic

from conftest import REPO, SHARED_DATA, folded_rows, needs_shared_mnist, run_cli


def one_line_error(code, err, needle):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_a_bad_sampling_setting_fails_before_any_data_is_read_or_step_trained(tmp_path, monkeypatch):
    """Checked while the config is built: the dataset, the pipeline and the optimiser are never reached."""
    from sdmbench.running import runner, training
    from sdmbench.cli import main

    reached = []
    monkeypatch.setattr(runner, "build_pipeline", lambda run: reached.append("pipeline"))
    monkeypatch.setattr(training, "optimise", lambda *a, **k: reached.append("training"))
    for bad in (["--sample-steps", "5000"], ["--sampler", "euler"],
                ["--extractor", "inception", "--inception-weights", str(tmp_path / "missing.pth")]):
        with pytest.raises(SystemExit) as stop:
            main(["run", "--dataset", "fashion-mnist", *bad, "--results-dir", str(tmp_path / "r")])
        assert stop.value.code == 2
    assert reached == [] and not (tmp_path / "r").exists()


class CreatesAFile:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def finished_run(tmp_path):
    """A run folder as sdmbench leaves it: a config and a stage file (here a foreign pickle)."""
    folder = tmp_path / "results" / "sdm-if-mnist-smoke-1"
    folder.mkdir(parents=True)
    config = configure(plugins.get(), {"dataset": "mnist", "split": "test"})
    write_json_atomic(folder / "config.json", config.to_dict())
    marker = tmp_path / "pwned"
    (folder / "stage-train.pt").write_bytes(pickle.dumps({"model": CreatesAFile(marker)}))
    return folder, marker


@pytest.mark.parametrize("how", [["run", "--resume"], ["run", "--dataset", "mnist", "--init-from"],
                                 ["sweep-threshold"]])
def test_a_foreign_weights_file_is_a_one_line_error_that_runs_nothing(finished_run, how):
    folder, marker = finished_run
    before = sorted(p.name for p in folder.parent.iterdir())
    code, out, err = run_cli(*how, str(folder))
    one_line_error(code, err, "cannot read")
    assert "weights_only" not in err  # torch's advice to turn the safety off is not repeated
    assert not marker.exists() and sorted(p.name for p in folder.parent.iterdir()) == before


def test_a_corrupt_weights_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "stage-train.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UsageError, match=r"--resume: cannot read .*stage-train.pt as sdmbench weights"):
        load_state(path)


def test_sweep_threshold_on_a_folder_that_is_no_run_says_so(tmp_path):
    code, out, err = run_cli("sweep-threshold", str(tmp_path))
    one_line_error(code, err, "sweep-threshold")
    assert "--resume" not in err


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    ckpt = StepCheckpoint(tmp_path / "checkpoint-train.pt", 5, {"model": net}, torch.Generator())
    ckpt.save(5, opt, 0.5)
    good = (tmp_path / "checkpoint-train.pt").read_bytes()

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos: No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(UsageError, match=r"No space left on device.*previous checkpoint \(step 5\) is kept.*"
                                         r"--resume"):
        ckpt.save(10, opt, 0.4)
    assert (tmp_path / "checkpoint-train.pt").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-train.pt"]  # no partial file left
    assert ckpt.saved_step == 5


def test_an_exploding_loss_stops_training_naming_the_step():
    from sdmbench.running.config import RunConfig
    from sdmbench.running.training import optimise

    w = torch.nn.Parameter(torch.ones(1))
    config = RunConfig(train_steps=50, lr=1e-3)
    losses = [1.0] * 5 + [10.0 ** k for k in range(1, 45)]  # a loss that grows tenfold every step

    with pytest.raises(UsageError, match=r"training diverged \(train\): the loss's running mean rose to .* "
                                         r"100x its lowest \(1\) at step (\d+)") as err:
        optimise([w], lambda step: (w * 0 + losses[step]).sum(), config)
    # running mean s = 0.95 s + 0.05 loss passes 100 when 0.05 * 10^k does: k = 4 (s ~ 500) at step 8
    assert "at step 8;" in str(err.value)


def test_a_stage_whose_loss_ends_above_where_it_began_is_marked_diverged_and_noise_alone_is_not():
    from sdmbench.running.config import RunConfig
    from sdmbench.running.training import optimise

    w = torch.nn.Parameter(torch.ones(1))

    def run(loss):
        return optimise([w], lambda step: (w * 0 + loss(step)).sum(), RunConfig(train_steps=100)).diverged

    assert run(lambda step: 1.0 + 0.05 * step)  # first 20 average 1.475 (sd 0.30); ends near 5
    assert not run(lambda step: 1.0 / (1 + step))
    # flat but noisy, and its first loss the lowest: 0.5, 1.5, 0.5, ... The first 20 average 1.0 (sd 0.51)
    # and the running mean ends at 1.013, below 1.0 + 2 x 0.51 x 0.27; compared with the first loss
    # alone (0.5) this stage would have been marked diverged
    assert not run(lambda step: 1.0 - 0.5 * (-1) ** step)
    # the same noise around a loss that rose by a quarter: above the bound (1.0 + 0.28)
    assert run(lambda step: (1.0 if step < 50 else 1.3) - 0.5 * (-1) ** step)


def test_a_stage_may_have_the_divergence_rules_watch_its_reconstruction_instead_of_its_loss():
    """A VQ-VAE's loss is reconstruction + codebook/commitment terms, and the latter grow as the
    encoder's outputs spread (sdmbench's VQ-SVAE: 0.1 -> 1.4-2.8 while MSE/Var fell 1.8-2.1 -> 0.11-0.14).
    Watching the sum flags a stage that learned; watching the reconstruction does not."""
    from sdmbench.running.config import RunConfig
    from sdmbench.running.training import Watched, optimise

    w = torch.nn.Parameter(torch.ones(1))
    reconstruction = lambda step: 2.0 / (1 + 0.2 * step)  # 2.0 -> 0.1
    vq = lambda step: 0.1 + 0.02 * step  # 0.1 -> 2.1
    total = lambda step: (w * 0 + reconstruction(step) + vq(step)).sum()
    config = RunConfig(train_steps=100)
    assert optimise([w], total, config).diverged  # the sum ends near 2.2, its first 20 average 1.14
    stats = optimise([w], lambda step: Watched(total(step), torch.tensor(reconstruction(step)), "mse/var"), config)
    assert not stats.diverged
    assert stats.as_dict()["watched"] == "mse/var"
    # the running mean s = 0.95 s + 0.05 r of the watched values, by hand
    s = reconstruction(0)
    for step in range(1, 100):
        s = 0.95 * s + 0.05 * reconstruction(step)
    assert stats.as_dict()["watched_final"] == pytest.approx(s)
    assert stats.final_loss == pytest.approx(reconstruction(99) + vq(99))  # the minimised loss, unchanged
    # a reconstruction that rises is still caught
    rising = lambda step: Watched(total(step), torch.tensor(0.5 + 0.01 * step), "mse/var")
    assert optimise([w], rising, config).diverged
    # a watched value that turns NaN stops the run, and the error names it (the loss is still finite)
    broken = lambda step: Watched(total(step), torch.tensor(float("nan") if step == 7 else 1.0), "mse/var")
    with pytest.raises(UsageError, match=r"the mse/var is nan at step 7;"):
        optimise([w], broken, config)


def test_a_diverged_record_is_shown_but_never_ranked():
    from test_leaderboard import record

    rows = leaderboard.rows([record("good", 40.0, model="a"), dict(record("bad", 10.0, model="b"), diverged=True),
                             record("ok", 50.0, model="c")])
    assert [(r["run_ids"], r["rank"]) for r in rows] == [(["good"], "1"), (["ok"], "2"), (["bad"], "diverged")]


def test_records_are_strict_json(tmp_path):
    from sdmbench.running.records import finite

    assert finite({"a": [1.0, math.inf], "b": {"c": math.nan}}) == {"a": [1.0, None], "b": {"c": None}}
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"threshold": math.inf})
    assert not list(tmp_path.iterdir())


def test_leaderboard_of_a_missing_folder_is_an_error(tmp_path):
    code, out, err = run_cli("leaderboard", "--results-dir", str(tmp_path / "nonexistent"))
    one_line_error(code, err, "no results folder at")


def test_leaderboard_in_a_checkout_shows_the_published_board_in_80_columns(tmp_path):
    (tmp_path / "leaderboard").symlink_to(REPO / "leaderboard")
    code, out, err = run_cli("leaderboard", cwd=tmp_path, env={"COLUMNS": "80"})
    assert code == 0, err
    assert "showing the published leaderboard in leaderboard/" in err
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    code, listing, _ = run_cli("leaderboard", "--results-dir", str(REPO / "leaderboard"), "--format", "json")
    for entry in json.loads(listing):  # every entry's FID in full, with its interval
        assert leaderboard.display(entry, "fid") in out
    trials = sorted((e["model"], e["neuron"], e["changes"], leaderboard.display(e, "fid"))
                    for e in json.loads(listing) if e["section"] == "trial")
    models = {t[0] for t in trials}  # a trial's row starts with its model (a ranked row with its rank)
    shown = sorted((*row[:3], row[4]) for row in folded_rows(out) if row[0] in models)
    assert trials and shown == trials  # what tells one trial from another: the settings off its preset


def test_run_help_shows_defaults():
    code, out, err = run_cli("run", "--help")
    text = " ".join(out.replace("│", " ").split())
    for default in ("[default: (smoke)]", "[default: (0)]", "[default: (auto)]", "fid,kid,prc,energy"):
        assert default in text, default


def test_sweep_help_names_its_tables():
    code, out, err = run_cli("sweep", "--help")
    assert all(name in out for name in ("grid", "settings", "executor"))


@needs_shared_mnist
def test_two_runs_at_once_into_one_results_folder_both_land(tmp_path):
    tiny = ["--model", "sdm", "--data-root", str(SHARED_DATA), "--dataset", "mnist", "--split", "test",
            "--preset", "smoke", "--train-steps", "2", "--num-samples", "8", "--sample-steps", "2",
            "--set", "sample_batch_size=8", "--metrics", "energy", "--threads", "1", "--results-dir", str(tmp_path)]
    procs = [subprocess.Popen([sys.executable, "-m", "sdmbench", "run", *tiny, "--seed", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (0, 1)]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert sorted(r["config"]["seed"] for r in records) == [0, 1]
    assert len({r["run_id"] for r in records}) == 2 and not list(tmp_path.glob("*.incomplete"))
