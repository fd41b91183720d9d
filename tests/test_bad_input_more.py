"""The fifteen inputs a new user tried that still broke the promise: each is one `error:` line, exit 2,
nothing left behind, before any expensive work (or, where a decision was written down, a one-line note)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared_mnist, run_cli
from test_cli import assert_clean_failure, cli_in_process

MNIST = ["--dataset", "mnist", "--split", "test", "--data-root", str(SHARED_DATA), "--preset", "smoke"]
TINY = ["--train-steps", "3", "--num-samples", "8", "--set", "reference_images=32", "--sample-steps", "2",
        "--threads", "1"]

pytestmark = needs_shared_mnist


@pytest.mark.parametrize("args,needle", [
    (["--model", "sdm", "--set", "neuron_params.surrogate=nope"], "unknown surrogate 'nope'"),
    (["--model", "sdm-ann", "--batch-size", "1000000000"], "--batch-size 1000000000 needs at least"),
    (["--model", "sdm-ann", "--num-samples", "99999999999999"], "--num-samples 99999999999999 keeps"),
    (["--model", "sdm-ann", "--train-steps", "0"], "--train-steps 0 trains nothing"),
    (["--model", "sdm-ann", "--neuron", "if"], "has no spiking neurons, so --neuron if does not apply"),
    (["--model", "sdm-ann", "--seeds", "3-1"], "runs backwards; write it low-high, e.g. 1-3"),
    (["--model", "sdm-ann", "--set", "backbone.ch_mult=abc"], "backbone.ch_mult must be a list of positive integers"),
])
def test_a_bad_run_setting_is_refused_in_one_line(tmp_path, capsys, args, needle):
    results = tmp_path / "results"
    code, out, err = cli_in_process(capsys, "run", *args, *MNIST, "--results-dir", str(results))
    assert_clean_failure(code, out, err, results, needle)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    code, _, err = run_cli("run", "--model", "sdm-ann", *MNIST, *TINY, "--set", "checkpoint_every=0",
                           "--results-dir", str(results))
    assert code == 0, err
    [run] = list(results.iterdir())
    return run, err


def test_checkpoint_every_0_is_accepted_with_a_note(finished):
    _, err = finished
    assert "note: checkpoint_every=0: no periodic checkpoints" in err


def test_resume_of_a_finished_run_is_refused(finished, capsys):
    run, _ = finished
    code, out, err = cli_in_process(capsys, "run", "--resume", str(run))
    assert code == 2 and "the run is finished and nothing was changed" in err
    assert len(list(run.parent.iterdir())) == 1  # no duplicate run


def test_score_refuses_an_empty_or_misshapen_samples_file(finished, tmp_path, capsys):
    run, _ = finished
    for content in (b"", None):
        copy = tmp_path / f"copy-{content is None}"
        shutil.copytree(run, copy)
        if content is None:
            np.savez(copy / "samples.npz", np.zeros((4, 16, 16), dtype=np.uint8))  # no channel axis
        else:
            (copy / "samples.npz").write_bytes(content)
        code, out, err = cli_in_process(capsys, "score", str(copy), "--num-samples", "4")
        assert code == 2 and err.startswith("error: ") and "samples" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("field, value, named", [
    ("metrics.fid", "twelve", "field 'metrics.fid' is str, not a number"),
    ("preset", "quick", "field 'preset' is str, not a config"),
])
def test_wrong_typed_record_fields_are_named_by_score_and_skipped_by_the_leaderboard(finished, tmp_path, capsys,
                                                                                     field, value, named):
    run, _ = finished
    bad = tmp_path / "board" / run.name
    shutil.copytree(run, bad)
    record = json.loads((bad / "record.json").read_text())
    *outer, last = field.split(".")
    inner = record
    for key in outer:
        inner = inner[key]
    inner[last] = value
    (bad / "record.json").write_text(json.dumps(record))
    code, out, err = cli_in_process(capsys, "score", str(bad), "--extractor", "classifier-resnet")
    assert code == 2 and named in err and str(bad / "record.json") in err
    code, out, err = cli_in_process(capsys, "leaderboard", "--results-dir", str(tmp_path / "board"))
    assert code == 0 and "skipped unreadable record" in err and named in err


def test_the_site_into_a_folder_that_cannot_be_made_is_refused_before_work(finished, tmp_path, capsys):
    run, _ = finished
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = cli_in_process(capsys, "leaderboard", "--results-dir", str(run.parent), "--format", "html",
                                    "--out", str(blocker / "site"))
    assert code == 2 and "cannot write the site" in err and len(err.strip().splitlines()) == 1


def test_score_refuses_a_run_folder_it_cannot_write_before_scoring(finished, monkeypatch):
    """As root every folder is writable, so the check is exercised by telling it the folder is not."""
    from sdmbench.running import rescore
    from sdmbench.errors import UsageError

    run, _ = finished
    monkeypatch.setattr(rescore.os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match="is not writable"):
        rescore.check(run, None)


def test_a_torchvision_that_does_not_belong_to_torch_is_one_line(tmp_path):
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '0.99.0+cu999'\n")  # loads, but registers no operators
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    proc = subprocess.run([sys.executable, "-m", "sdmbench", "run", "--model", "sdm-ann", *MNIST, *TINY,
                           "--results-dir", str(tmp_path / "results")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "torchvision 0.99.0+cu999 does not belong with torch" in line and "matching pair" in line
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_import_into_a_folder_that_cannot_be_made_is_refused_before_reading(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    checkpoint = tmp_path / "ckpt.pt"
    checkpoint.write_bytes(b"not read: the destination is checked first")
    code, out, err = cli_in_process(capsys, "import", "sddpm", str(checkpoint), "--out", str(blocker / "run"))
    assert code == 2 and "cannot write the run folder run" in err and len(err.strip().splitlines()) == 1
