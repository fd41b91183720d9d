"""The command line as a new user meets it: plugins, a smoke run end to end,
the leaderboard, and one-line errors with exit status 2 for bad input."""
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SHARED_DATA, needs_debian_fmnist, needs_shared_mnist, run_cli


def test_plugins_lists_the_builtins_with_their_origin():
    code, out, err = run_cli("plugins", "--json")
    assert code == 0, err
    listing = json.loads(out)["plugins"]
    names = {kind: {e["name"] for e in entries} for kind, entries in listing.items()}
    assert {"if", "lif"} <= names["neuron"]
    assert {"sdm", "sdm-ann"} <= names["model"]
    assert {"mnist", "fashion-mnist", "kmnist", "emnist-letters", "cifar10", "celeba", "lsun-bedroom"} <= names["dataset"]
    assert {"fid", "kid", "prc", "energy"} <= names["metric"]
    assert {"sdm-unet", "vq-svae", "sdid"} <= names["backbone"]
    assert {"ddpm", "absorbing"} <= names["process"] and "spiking-diffusion" in names["model"]
    if_entry = next(e for e in listing["neuron"] if e["name"] == "if")
    assert if_entry["distribution"] == "sdmbench" and if_entry["description"]
    code, out, _ = run_cli("plugins")
    assert code == 0 and "fashion-mnist" in out and "sdmbench-neurons" in out


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The two smoke runs of the acceptance list, into one results folder: Fashion-MNIST as a new user types
    it, MNIST's test split from ``--data-root`` at 5 of the preset's 60 steps against 256 reference images
    (what it adds is the data path)."""
    results = tmp_path_factory.mktemp("results")
    runs = {}
    for name, extra in [("fashion-mnist", ["--dataset", "fashion-mnist"]),
                        ("mnist", ["--dataset", "mnist", "--split", "test", "--data-root", str(SHARED_DATA),
                                   "--train-steps", "5", "--set", "reference_images=256"])]:
        code, out, err = run_cli("run", "--model", "sdm", "--neuron", "if", *extra, "--preset", "smoke",
                                 "--results-dir", str(results))
        runs[name] = (code, out, err)
    return results, runs


def record_of(results, dataset):
    [path] = [p for p in results.glob("*/record.json") if json.loads(p.read_text())["dataset"] == dataset]
    return path.parent, json.loads(path.read_text())


@needs_debian_fmnist
@needs_shared_mnist
@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist"])
def test_smoke_run_records_fid_energy_firing_rates_and_a_grid(smoke_runs, dataset):
    results, runs = smoke_runs
    code, out, err = runs[dataset]
    assert code == 0, err[-2000:]
    assert "FID " in out and not re.search(r"\d\.\d{5,}", out), out  # the closing line is rounded
    folder, record = record_of(results, dataset)
    assert record["protocol"]["extractor"] == "classifier-resnet"  # the registry's default
    assert record["metrics"]["fid"] > 0
    assert record["metrics"]["energy_per_image_mj"] > 0
    energy = record["details"]["energy"]
    assert energy["counts"]["acs"] > 0 and energy["counts"]["macs"] > 0 and energy["counts"]["state_writes"] > 0
    assert set(energy["models"]) >= {"fp32-compute", "int8-compute", "memory-aware"}
    assert len(energy["firing_rates"]) == 19 and all(0 <= r <= 1 for r in energy["firing_rates"].values())
    assert (folder / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    kept = np.load(folder / "samples.npz", allow_pickle=False)["arr_0"]  # every sample, uint8 NHWC
    assert kept.dtype == np.uint8 and kept.shape == (record["protocol"]["num_samples"], 16, 16, 1)
    # the grid is the first 64 of them: rebuild it from the array and compare pixel for pixel
    from torchvision.utils import make_grid

    grid = make_grid(torch.from_numpy(kept[:64]).permute(0, 3, 1, 2), nrow=8, padding=1)[0]
    assert np.array_equal(np.asarray(Image.open(folder / "samples.png"))[..., 0], grid.numpy())
    for key in ("schema_version", "run_id", "config", "protocol", "wall_times", "git_commit", "packages",
                "hardware"):
        assert key in record
    assert record["config"]["split"] == ("test" if dataset == "mnist" else "train")


@needs_debian_fmnist
@needs_shared_mnist
def test_leaderboard_shows_both_runs_in_every_format(smoke_runs):
    results, runs = smoke_runs
    code, out, err = run_cli("leaderboard", "--results-dir", str(results))
    assert code == 0, err
    assert "fashion-mnist" in out and "mnist" in out
    code, out, _ = run_cli("leaderboard", "--results-dir", str(results), "--format", "markdown")
    table_rows = [line for line in out.splitlines() if line.startswith("| ") and "rank" not in line]
    headers = [line for line in out.splitlines() if line.startswith("| rank")]
    assert code == 0 and len(table_rows) == 2 and len(headers) == 2  # two datasets: two groups
    code, out, _ = run_cli("leaderboard", "--results-dir", str(results), "--format", "json", "--dataset", "mnist")
    assert code == 0 and [r["dataset"] for r in json.loads(out)] == ["mnist"]


def assert_clean_failure(code, out, err, results, needle):
    assert code == 2, (code, err)
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err
    assert not results.exists() or not any(results.iterdir()), "a failed run left files behind"


@pytest.mark.parametrize("args,needle", [
    (["--neuron", "lifx"], "unknown neuron 'lifx'"),
    (["--model", "sdmm"], "Did you mean 'sdm'?"),
    (["--dataset", "cifar-10"], "unknown dataset 'cifar-10'"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--T", "0"], "--T must be at least 1"),
    (["--sampler", "euler"], "unknown sampler"),
    (["--num-samples", "1"], "--num-samples"),
    (["--set", "bits=2"], "unknown setting 'bits'"),
    (["--model", "sdm-converted", "--set", "bits=9"], "bits must be a whole number between 1 and 8"),
    (["--model", "sdm-converted", "--threshold", "0.9"], "--threshold does not apply"),
    (["--model", "sdm-converted", "--neuron", "lif"], "converts to IF neurons"),
    (["--model", "sdm-converted", "--set", "converter=nope"], "unknown converter 'nope'"),
    (["--threshold", "inf"], "setting 'threshold' must be a finite number, got inf"),
    (["--set", "lr=nan"], "setting 'lr' must be a finite number"),
    (["--sample-steps", "5000"], "--sample-steps must be in 1..1000"),
    (["--T", "99999999999999999999999"], "--T must be at most 1024"),
    (["--extractor", "inception", "--inception-weights", "/nonexistent.pth"], "/nonexistent.pth: no such file"),
    (["--model", "spiking-diffusion", "--sampler", "ddim"], "Known samplers of process 'absorbing': unmask."),
    (["--metrics", "fid,energi"], "unknown metric 'energi'. Did you mean 'energy'?"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, capsys, args, needle):
    results = tmp_path / "results"
    base = {"--model": "sdm", "--neuron": "if", "--dataset": "fashion-mnist", "--preset": "smoke"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = [x for pair in base.items() for x in pair] + [a for a in args if a not in base and a not in base.values()]
    code, out, err = cli_in_process(capsys, "run", *argv, "--results-dir", str(results))
    assert_clean_failure(code, out, err, results, needle)


def cli_in_process(capsys, *args):
    """``sdmbench ARGS`` in this process (no interpreter start-up): (exit status, stdout, stderr)."""
    from sdmbench.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_a_dataset_that_is_not_on_disk(tmp_path):
    results = tmp_path / "results"
    code, out, err = run_cli("run", "--dataset", "kmnist", "--data-root", str(tmp_path / "empty"),
                             "--results-dir", str(results))
    assert_clean_failure(code, out, err, results, "dataset 'kmnist' not found")
    assert not any(p for p in results.iterdir() if p.name != ".tmp") if results.exists() else True


def test_an_unwritable_results_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = run_cli("run", "--dataset", "fashion-mnist", "--results-dir", str(blocker / "results"))
    assert_clean_failure(code, out, err, blocker / "results", "not writable")


def test_unknown_leaderboard_format_and_missing_option():
    code, _, err = run_cli("leaderboard", "--format", "xml")
    assert code == 2 and err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("run", "--model", "sdm")
    assert code == 2 and "--dataset" in err and len(err.strip().splitlines()) == 1
