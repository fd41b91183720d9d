"""Watching a run: every stage's curve in train_log.csv, the same scalars in TensorBoard, and
'sdmbench runs' over a results folder."""
import csv
import os
import socket

import pytest

from sdmbench.running.curves import COLUMNS, CurveLog, read_log

from conftest import SHARED_DATA, folded_rows, needs_shared_mnist, run_cli

RUN = ["run", "--model", "sdm-ann", "--dataset", "mnist", "--split", "test", "--preset", "smoke",
       "--train-steps", "25", "--set", "log_every=4", "--num-samples", "8", "--set", "reference_images=64",
       "--sample-steps", "2", "--metrics", "fid", "--threads", "1", "--set", "sample_every=10"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    code, _, err = run_cli(*RUN, "--data-root", str(SHARED_DATA), "--results-dir", str(results))
    assert code == 0, err
    [run] = list(results.iterdir())
    return run


@needs_shared_mnist
def test_a_stage_logs_every_log_every_steps_and_its_last(finished):
    with open(finished / "train_log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [int(r["step"]) for r in rows] == [4, 8, 12, 16, 20, 24, 25]
    assert {r["stage"] for r in rows} == {"train"} and {r["watched"] for r in rows} == {"loss"}
    wall = [float(r["wall_seconds"]) for r in rows]
    assert wall == sorted(wall) and all(float(r["samples_per_second"]) > 0 for r in rows)
    assert all(float(r["lr"]) == 2e-3 for r in rows)  # the smoke preset's constant rate


@needs_shared_mnist
def test_tensorboard_holds_the_csv_losses_and_the_config(finished):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(finished / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    logged = {r["step"]: r["loss"] for r in read_log(finished / "train_log.csv")}
    seen = {e.step: e.value for e in events.Scalars("train/loss")}
    assert seen.keys() == logged.keys()
    assert all(abs(seen[s] - logged[s]) <= 1e-6 * abs(logged[s]) for s in seen)  # float32 in the event file
    [config] = events.Tensors("train/config/text_summary")
    assert b'"model": "sdm-ann"' in config.tensor_proto.string_val[0]


@needs_shared_mnist
def test_tensorboard_holds_an_8x8_sample_grid_every_sample_every_steps(finished):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(finished / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    grids = events.Images("train/samples")
    assert [g.step for g in grids] == [10, 20]
    side = 8 * (16 + 1) + 1  # 8 smoke images of 16 px a row, 1 px apart
    assert all((g.width, g.height) == (side, side) for g in grids)


@needs_shared_mnist
def test_sampling_the_grids_leaves_training_exactly_as_it_was(finished, tmp_path):
    # the grids draw from a generator of their own: the same run without them trains to the same losses
    plain = RUN[:-2]
    assert plain[-1] != "--set" and "sample_every=10" not in plain
    code, _, err = run_cli(*plain, "--data-root", str(SHARED_DATA), "--results-dir", str(tmp_path))
    assert code == 0, err
    [run] = list(tmp_path.iterdir())
    assert [r["loss"] for r in read_log(run / "train_log.csv")] == \
        [r["loss"] for r in read_log(finished / "train_log.csv")]
    assert not (run / "tensorboard").is_dir() or not _images(run)


def _images(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    return events.Tags()["images"]


def test_a_grid_that_cannot_be_sampled_says_so_once_and_training_goes_on(tmp_path):
    said = []

    def broken():
        raise RuntimeError("out of memory")

    curve = CurveLog(tmp_path, "train", 1, log=said.append, preview=broken, sample_every=1)
    curve.start(0, 8)
    for step in range(1, 4):
        curve.row(step, 0.5, "loss", 0.5, 0.5, 1e-3)
        curve.preview_at(step)
    curve.close()
    assert len(said) == 1 and "cannot sample" in said[0] and "goes on" in said[0]
    assert len(read_log(tmp_path / "train_log.csv")) == 3


def test_a_log_that_cannot_be_written_says_so_once_and_training_goes_on(tmp_path):
    (tmp_path / "train_log.csv").mkdir()  # writing the file fails with an OSError, as on a full disk
    said = []
    curve = CurveLog(tmp_path, "train", 1, log=said.append)
    curve.start(0, 8)
    for step in range(1, 4):
        curve.row(step, 0.5, "loss", 0.5, 0.5, 1e-3)
    curve.close()
    assert len(said) == 1 and "cannot write the training curve" in said[0] and "goes on" in said[0]


def test_a_resumed_stage_drops_rows_past_its_checkpoint(tmp_path):
    curve = CurveLog(tmp_path, "train", 1)
    curve.start(0, 8)
    for step in range(1, 8):
        curve.row(step, float(step), "loss", float(step), float(step), 1e-3)
    again = CurveLog(tmp_path, "train", 1)
    again.start(5, 8)  # the checkpoint was at step 5; steps 6 and 7 will be trained again
    again.row(6, 6.5, "loss", 6.5, 6.5, 1e-3)
    assert [(r["step"], r["loss"]) for r in read_log(tmp_path / "train_log.csv")] == \
        [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0), (6, 6.5)]


@needs_shared_mnist
def test_runs_lists_states_steps_and_losses(finished, tmp_path):
    import shutil

    shutil.copytree(finished, tmp_path / finished.name)
    live = tmp_path / "sdm-x.incomplete"
    shutil.copytree(finished, live)
    (live / "run.pid").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    dead = tmp_path / "sdm-y.incomplete"
    shutil.copytree(finished, dead)
    (dead / "run.pid").write_text(f"999999999 {socket.gethostname()}\n")
    code, out, err = run_cli("runs", "--results-dir", str(tmp_path))
    assert code == 0, err
    lines = {l.split("│")[1].strip(): l for l in out.splitlines() if l.count("│") > 3}
    import json

    state = "diverged" if json.loads((finished / "record.json").read_text())["diverged"] else "done"
    assert f"│ {state} " in lines[finished.name] and "25/25" in lines[finished.name]
    assert "running" in lines["sdm-x"] and "incomplete" in lines["sdm-y"]
    code, out, err = run_cli("runs", "--results-dir", str(tmp_path), env={"COLUMNS": "60"})
    assert code == 0 and {row[0] for row in folded_rows(out, key=1)} == {finished.name, "sdm-x", "sdm-y"}
