"""The run pipeline in process, on tiny settings."""
import json
import subprocess
import sys

import pytest
import torch

from conftest import configure_from as resolve
from sdmbench.errors import UsageError
from sdmbench.running.runner import execute

from conftest import SHARED_DATA, needs_shared_mnist

TINY = dict(image_size=16, backbone=dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0), T=2,
            train_steps=3, batch_size=8, num_samples=16, sample_batch_size=16, sample_steps=3,
            reference_images=64, split="test", dataset="mnist")


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):

    def run(**overrides):
        config = resolve(TINY, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path), **overrides})
        folder = execute(config, log=lambda *a: None).folder
        return json.loads((folder / "record.json").read_text())

    return run


@needs_shared_mnist
def test_threshold_guidance_changes_inference_only(tiny_run):
    base = tiny_run(threshold=1.0)
    higher = tiny_run(threshold=1.3)
    assert higher["threshold"] == 1.3 and higher["train_threshold"] == 1.0
    # same seed, same training: identical losses; a higher threshold fires less when sampling
    assert higher["training"]["final_loss"] == base["training"]["final_loss"]
    assert higher["metrics"]["mean_firing_rate"] < base["metrics"]["mean_firing_rate"]


@needs_shared_mnist
def test_record_is_complete_and_runs_are_reproducible(tiny_run):
    a, b = tiny_run(), tiny_run()
    assert a["run_id"] != b["run_id"]
    assert a["metrics"]["fid"] == b["metrics"]["fid"]
    assert a["protocol"] == b["protocol"] and a["protocol_key"] == b["protocol_key"]
    assert a["config"]["T"] == 2 and a["T"] == 2 and a["parameters"] > 0
    assert set(a["cpu_times"]) == set(a["wall_times"]) >= {"data_s", "train_train_s", "sample_s", "score_s"}
    assert a["hardware"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


TIMING = """
import json, time, torch
from sdmbench.running.runner import Run, clock
run = Run(config=None, plugins=None, recipe=None, device=torch.device("cpu"), run_id="r", folder=None)
t0 = clock()
time.sleep(0.3)
run.timed("sleep_s", t0)
t0 = clock()
while clock()[1] - t0[1] < 0.2:
    pass
run.timed("busy_s", t0)
print(json.dumps({"wall": run.times, "cpu": run.cpu_times}))
"""


def test_a_step_is_timed_in_wall_and_cpu_seconds():
    """CPU seconds count work, not waiting: a sleep costs wall time and (almost) no CPU time, a busy
    loop costs CPU time no greater than its wall time on one thread. Measured in a fresh process, so no
    thread left over from other tests (a spinning OpenMP pool, a writer) is charged to the sleep."""
    out = subprocess.run([sys.executable, "-c", TIMING], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    t = json.loads(out.stdout.strip().splitlines()[-1])
    assert t["wall"]["sleep_s"] >= 0.3 and t["cpu"]["sleep_s"] < 0.1
    assert 0.2 <= t["cpu"]["busy_s"] <= t["wall"]["busy_s"] + 0.01


@needs_shared_mnist
def test_resume_reuses_the_finished_stage_and_gives_the_same_result(tiny_run, tmp_path):
    first = tiny_run()
    folder = tmp_path / first["run_id"]
    assert (folder / "stage-train.pt").is_file() and (folder / "config.json").is_file()
    config = resolve(json.loads((folder / "config.json").read_text()), {})
    again = json.loads((execute(config, log=lambda *a: None, resume=folder).folder / "record.json").read_text())
    assert again["stages"]["train"] == {"resumed_from": str(folder / "stage-train.pt")}
    assert again["metrics"]["fid"] == first["metrics"]["fid"]
    rerun = json.loads((execute(config, log=lambda *a: None, resume=folder, rerun="train").folder
                        / "record.json").read_text())
    assert rerun["stages"]["train"]["steps"] == 3


@needs_shared_mnist
def test_a_failure_after_training_keeps_the_stage_to_resume_from(tiny_run, tmp_path, monkeypatch):
    import sdmbench.running.runner as runner

    def broken_sample(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "sample", broken_sample)
    with pytest.raises(RuntimeError):
        tiny_run()
    [kept] = list(tmp_path.glob("*.incomplete"))
    assert (kept / "stage-train.pt").is_file() and not (kept / "record.json").exists()
    assert not list(tmp_path.glob(".tmp-*"))
    monkeypatch.undo()
    config = resolve(json.loads((kept / "config.json").read_text()), {})
    record = json.loads((execute(config, log=lambda *a: None, resume=kept).folder / "record.json").read_text())
    assert "resumed_from" in record["stages"]["train"]


def test_set_reaches_nested_settings_and_refuses_unknown_ones():
    from sdmbench.running.config import parse_settings, resolve
    from sdmbench.errors import UsageError

    settings = parse_settings(["backbone.autoencoder.num_codes=64", "lr=0.001", "sampler=ddpm"])
    assert settings == {"backbone": {"autoencoder": {"num_codes": 64}}, "lr": 0.001, "sampler": "ddpm"}
    config = resolve({"backbone": {"autoencoder": {"num_codes": 128, "code_dim": 16}}}, {}, settings)
    assert config.backbone["autoencoder"] == {"num_codes": 64, "code_dim": 16} and config.lr == 0.001
    with pytest.raises(UsageError, match="unknown setting 'learning_rate'"):
        resolve({}, {}, parse_settings(["learning_rate=1"]))
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_settings(["lr"])


def test_set_values_of_the_wrong_type_are_usage_errors():
    from sdmbench.running.config import parse_settings, resolve
    from sdmbench.errors import UsageError

    with pytest.raises(UsageError, match="'T' must be a number"):
        resolve({}, {}, parse_settings(["T=four"]))
    with pytest.raises(UsageError, match="backbone.NAME=VALUE"):
        resolve({}, {}, parse_settings(["backbone=3"]))
    assert resolve({}, {}, parse_settings(["T=8"])).T == 8


@needs_shared_mnist
def test_init_from_fine_tunes_a_trained_if_run_as_tsm(tiny_run, tmp_path, capsys):
    from sdmbench.api import load_backbone
    from sdmbench.cli import main

    source = tiny_run(train_steps=20)
    folder = tmp_path / source["run_id"]
    main(["run", "--init-from", str(folder), "--neuron", "tsm", "--results-dir", str(tmp_path / "ft")])
    [tuned] = list((tmp_path / "ft").glob("sdm-tsm-*"))
    record = json.loads((tuned / "record.json").read_text())
    assert record["neuron"] == "tsm" and record["config"]["init_from"] == str(folder)
    assert record["training"]["steps"] == 2  # a tenth of the source's 20 steps, as the paper fine-tunes
    # with no fine-tuning steps the TSM model is the IF model: gains of 1, the same weights, the same outputs
    same = execute(resolve(TINY, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path / "zero"),
                                  "neuron": "tsm", "init_from": str(folder), "train_steps": 0, "bn_batches": 0}),
                   log=lambda *a: None).folder
    a, b = load_backbone(folder), load_backbone(same)
    assert all(torch.equal(b.state_dict()[k], v) for k, v in a.state_dict().items())
    assert all(p.tolist() == [1.0, 1.0] for n, p in b.named_parameters() if n.endswith(".gain"))
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([10, 900])
    with torch.no_grad():
        assert torch.allclose(a(x, t), b(x, t), atol=1e-6)
    with pytest.raises(UsageError, match="differs from this run"):
        execute(resolve(TINY, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path / "bad"),
                               "neuron": "tsm", "init_from": str(folder), "backbone": {"ch": 16}}),
                log=lambda *a: None).folder


def test_a_resumed_config_keeps_what_it_was_made_with_but_its_results_folder():
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.running.configure import configure

    saved = configure(plugins.get(), {"dataset": "mnist", "neuron": "tsm", "init_from": "runs/if-run",
                                      "results_dir": "old"}).to_dict()
    again = configure(plugins.get(), {"results_dir": "new"}, base=saved)
    assert (again.init_from, again.neuron, again.results_dir) == ("runs/if-run", "tsm", "new")
