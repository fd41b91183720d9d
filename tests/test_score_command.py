"""``sdmbench score``: rescoring finished runs under another protocol, never
overwriting what a record holds, generating more samples from saved weights."""
import json
import shutil

import numpy as np
import pytest

from sdmbench.scoring.fid import fid_from_features

from conftest import SHARED_DATA, needs_shared_mnist, run_cli

TINY = ["--model", "sdm-ann", "--data-root", str(SHARED_DATA), "--dataset", "mnist", "--split", "test",
        "--preset", "smoke", "--train-steps", "2", "--sample-steps", "2", "--metrics", "fid,kid,prc,energy",
        "--set", "sample_batch_size=8", "--set", "reference_images=64", "--threads", "1"]

pytestmark = needs_shared_mnist


def one_run(results, n):
    code, out, err = run_cli("run", *TINY, "--num-samples", str(n), "--results-dir", str(results))
    assert code == 0, err[-2000:]
    [folder] = [p.parent for p in results.glob("*/record.json")]
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same run (seed 0) made with 8 and with 16 samples."""
    root = tmp_path_factory.mktemp("score")
    return one_run(root / "eight", 8), one_run(root / "sixteen", 16)


def samples(folder):
    return np.load(folder / "samples.npz", allow_pickle=False)["arr_0"]


def record(folder):
    return json.loads((folder / "record.json").read_text())


def test_more_samples_are_generated_from_the_saved_weights_as_a_larger_run_would(runs, tmp_path):
    eight, sixteen = runs
    folder = shutil.copytree(eight, tmp_path / eight.name)
    before = record(folder)
    code, out, err = run_cli("score", str(folder), "--num-samples", "16", "--data-root", str(SHARED_DATA))
    assert code == 0, err[-2000:]
    after = record(folder)
    assert (after["protocol"], after["metrics"]) == (before["protocol"], before["metrics"])  # kept as they were
    [entry] = after["rescores"]
    assert entry["protocol"]["num_samples"] == 16 and entry["protocol_key"] != before["protocol_key"]
    assert np.array_equal(samples(folder)[:8], samples(eight))  # the kept samples are the first ones
    assert np.array_equal(samples(folder), samples(sixteen))  # batch i is batch i, whoever makes it
    for key in ("fid", "kid", "precision", "recall"):  # so the scores are the 16-sample run's own
        assert entry["metrics"][key] == pytest.approx(record(sixteen)["metrics"][key], rel=1e-9)
    assert entry["protocol"]["metric_settings"] == record(sixteen)["protocol"]["metric_settings"]
    text = (folder / "record.json").read_text()  # scoring twice under one protocol changes nothing
    code, out, err = run_cli("score", str(folder), "--num-samples", "16", "--data-root", str(SHARED_DATA))
    assert code == 0 and "already scored under this protocol" in out, err[-2000:]
    assert (folder / "record.json").read_text() == text


def test_another_extractor_scores_the_kept_samples(runs, tmp_path, monkeypatch, sdmbench_plugins):
    from sdmbench.running.rescore import check, read_samples, rescore
    from sdmbench_metrics import classifier

    folder = shutil.copytree(runs[0], tmp_path / runs[0].name)
    target = check(folder, None)
    entry = rescore(target, sdmbench_plugins, "classifier-resnet", ["fid"], None, "cpu",
                    data_root=str(SHARED_DATA))
    assert entry["protocol"]["extractor"] == "classifier-resnet" and set(entry["metrics"]) == {"fid"}
    data = sdmbench_plugins.dataset.get("mnist")(str(SHARED_DATA), "test", 16)
    extractor = classifier.make_resnet_classifier(data)
    assert entry["protocol"]["extractor_version"] == extractor.version
    expected = fid_from_features(extractor(read_samples(folder / "samples.npz")), extractor(data.first(64)))
    assert entry["metrics"]["fid"] == pytest.approx(expected, rel=1e-9)
    assert len(record(folder)["rescores"]) == 1


def test_the_leaderboard_lists_a_rescored_run_under_both_protocols(runs, tmp_path, sdmbench_plugins):
    from sdmbench.board import leaderboard
    from sdmbench.running.rescore import check, rescore

    folder = shutil.copytree(runs[0], tmp_path / runs[0].name)
    rescore(check(folder, None), sdmbench_plugins, "classifier", ["fid"], None, "cpu", data_root=str(SHARED_DATA))
    rows = leaderboard.rows([record(folder)])
    assert len(rows) == 2 and len({r["protocol_key"] for r in rows}) == 2
    assert {r["energy_mj_per_image"] for r in rows} == {round(record(folder)["metrics"]["energy_per_image_mj"], 4)}


@pytest.mark.parametrize("args, needle", [
    (["--metrics", "energy"], "metric 'energy' is measured while a run samples"),
    (["--extractor", "clasifier"], "unknown extractor 'clasifier'. Did you mean 'classifier'?"),
])
def test_bad_choices_fail_in_one_line_before_any_work(runs, args, needle):
    text = (runs[0] / "record.json").read_text()
    code, out, err = run_cli("score", str(runs[0]), *args)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert (runs[0] / "record.json").read_text() == text


def test_a_run_without_weights_can_only_be_rescored_with_its_own_samples(runs, tmp_path):
    from sdmbench.errors import UsageError
    from sdmbench.running.rescore import check

    folder = shutil.copytree(runs[0], tmp_path / "bare")
    for weights in folder.glob("stage-*.pt"):
        weights.unlink()
    code, out, err = run_cli("score", str(folder), "--num-samples", "16")
    assert code == 2 and "no saved weights" in err and "--num-samples 8 or less" in err, err
    assert len(err.strip().splitlines()) == 1
    (folder / "samples.npz").unlink()
    with pytest.raises(UsageError, match="cannot be rescored"):
        check(folder, None)


def test_a_folder_that_is_no_run_and_a_corrupt_samples_file_are_clear_errors(runs, tmp_path):
    from sdmbench.errors import UsageError
    from sdmbench.running.rescore import check

    with pytest.raises(UsageError, match="no record.json there"):
        check(tmp_path, None)
    folder = shutil.copytree(runs[0], tmp_path / "corrupt")
    (folder / "samples.npz").write_bytes(b"not an archive")
    with pytest.raises(UsageError, match=r"not a samples archive \(neither .npz nor .npy\); delete it to regenerate"):
        check(folder, None)
    for weights in folder.glob("stage-*.pt"):  # a published run: nothing to regenerate it from
        weights.unlink()
    with pytest.raises(UsageError, match="keeps no weights to make it again: copy it again"):
        check(folder, None)


def test_samples_of_another_size_than_the_run_was_scored_on_are_refused_before_scoring(runs, tmp_path):
    folder = shutil.copytree(runs[0], tmp_path / "resized")
    kept = samples(folder)
    size = record(folder)["protocol"]["image_size"]
    np.savez(folder / "samples.npz", arr_0=kept[:, :-2])  # two rows short of what its protocol scored
    before = (folder / "record.json").read_text()
    code, out, err = run_cli("score", str(folder), "--extractor", "classifier", "--data-root", str(SHARED_DATA))
    assert code == 2 and err.strip().splitlines() == [
        f"error: {folder / 'samples.npz'}: holds {size - 2}x{size} images, but the run was scored on {size}x{size} "
        "ones, so these "
        "are not the samples its scores came from; delete it to regenerate from the run's weights"], err
    assert (folder / "record.json").read_text() == before


def test_recounting_energy_reproduces_the_runs_own_pass_and_keeps_the_old_figures(runs, tmp_path, sdmbench_plugins):
    import torch

    from sdmbench.running.recount import recount
    from sdmbench.running.rescore import check

    cpu = torch.device("cpu")
    folder = shutil.copytree(runs[1], tmp_path / runs[1].name)  # 16 samples: two batches of 8
    before = record(folder)
    found = recount(check(folder, None), sdmbench_plugins, cpu)
    after = record(folder)
    assert found["images"] == 16 and found["reproduced_samples"]
    for key in ("energy_per_image_mj", "macs_per_image", "memory_accesses_per_image"):  # the same pass, counted again
        assert after["metrics"][key] == pytest.approx(before["metrics"][key], rel=1e-12)
    [old] = after["superseded"]
    assert old["metrics"]["energy_per_image_mj"] == before["metrics"]["energy_per_image_mj"]
    assert old["details"]["energy"] == before["details"]["energy"]
    assert after["details"]["energy"]["recounted"]["reproduced_samples"] is True
    one = recount(check(folder, None), sdmbench_plugins, cpu, batches=1)
    assert one["images"] == 8 and len(record(folder)["superseded"]) == 2
    assert (after["protocol"], after["metrics"]["fid"]) == (before["protocol"], before["metrics"]["fid"])


def test_batches_go_with_recount_energy(runs):
    code, out, err = run_cli("score", str(runs[0]), "--batches", "2")
    assert code == 2 and "--batches N (N >= 1) goes with --recount-energy" in err, err
