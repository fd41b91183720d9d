"""``sdmbench verify`` re-derives every published number; ``sdmbench publish`` joins a board after it."""
import json
import shutil

import numpy as np

import pytest

from conftest import SHARED_DATA, needs_shared_mnist, run_cli




pytestmark = needs_shared_mnist


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A board of one finished, scored run (MNIST test split, smoke U-Net, 5 steps) and its README."""
    root = tmp_path_factory.mktemp("board")
    code, _, err = run_cli("run", "--model", "sdm-ann", "--dataset", "mnist", "--split", "test", "--data-root",
                           str(SHARED_DATA), "--preset", "smoke", "--train-steps", "5", "--num-samples", "40",
                           "--set", "reference_images=200", "--results-dir", str(root / "results"))
    assert code == 0, err
    [run] = list((root / "results").iterdir())
    code, out, err = run_cli("publish", str(run), str(root / "board"), "--data-root", str(SHARED_DATA))
    assert code == 0, err
    assert f"wrote its table anew: {root / 'board' / 'README.md'}" in out
    return root / "board", run


def verify(*paths):
    return run_cli("verify", *map(str, paths), "--data-root", str(SHARED_DATA))


def test_publish_keeps_what_a_board_needs_and_no_weights(board):
    folder, run = board
    published = folder / run.name
    assert sorted(p.name for p in published.iterdir()) == sorted(
        ["record.json", "config.json", "samples.npz", "samples.png", "train_log.csv"])
    assert list(run.glob("stage-*.pt"))  # the run itself keeps its weights


def test_a_published_board_verifies(board):
    folder, _ = board
    code, table, err = run_cli("leaderboard", "--results-dir", str(folder), "--format", "markdown")
    assert code == 0 and (folder / "README.md").read_text() == table  # publish wrote the board's table
    code, out, err = verify(folder)
    assert code == 0, out + err
    assert "0 mismatch" in out
    assert "match" in out and "fid @ classifier-resnet@" in out and "energy_per_image_mj @ energy model" in out
    assert "entries: means, intervals, rank ranges" in out


def test_verify_counts_the_runs_it_checks_on_a_progress_bar(board):
    from sdmbench.cli.board import check_runs

    class Recording:  # the two calls verify makes of a rich Progress
        def __init__(self):
            self.tasks, self.advanced = [], 0

        def add_task(self, description, total):
            self.tasks.append((description, total))
            return 0

        def advance(self, task):
            self.advanced += 1

    folder, run = board
    bars, lines = Recording(), []
    findings = check_runs([folder], str(SHARED_DATA), log=lines.append, progress=bars)
    assert bars.tasks == [("verify runs", 1)] and bars.advanced == 1 and lines == [f"[1/1] {run.name}"]
    assert findings and all(f.status == "match" for f in findings)


def test_verify_catches_one_edited_fid(board, tmp_path):
    folder, run = board
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    record_path = copy / run.name / "record.json"
    record = json.loads(record_path.read_text())
    record["metrics"]["fid"] *= 1.001
    record_path.write_text(json.dumps(record))
    code, out, _ = verify(copy / run.name)
    assert code == 1
    [line] = [l for l in out.splitlines() if "MISMATCH" in l]
    assert run.name in line and "fid @ classifier-resnet@" in line


def test_verify_catches_an_edited_energy_and_an_edited_table(board, tmp_path):
    folder, run = board
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    record_path = copy / run.name / "record.json"
    record = json.loads(record_path.read_text())
    record["details"]["energy"]["models"]["int8-compute"]["energy_per_image_mj"] *= 2
    record_path.write_text(json.dumps(record))
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace("sdm-ann", "sdm-anm", 1))
    code, out, _ = verify(copy)
    assert code == 1
    mismatches = [l for l in out.splitlines() if "MISMATCH" in l]
    assert any("int8-compute" in l for l in mismatches) and any("README.md" in l for l in mismatches)


def test_a_run_without_samples_is_not_re_derivable_and_not_a_mismatch(board, tmp_path):
    folder, run = board
    copy = tmp_path / run.name
    shutil.copytree(folder / run.name, copy)
    (copy / "samples.npz").unlink()
    code, out, _ = verify(copy)
    assert code == 0 and "not re-derivable" in out and "published before samples were kept" in out


def test_publish_refuses_unfinished_duplicate_and_local_runs(board, tmp_path):
    folder, run = board
    code, _, err = run_cli("publish", str(run), str(folder))
    assert code == 2 and "exists already" in err
    local = tmp_path / run.name
    shutil.copytree(run, local)
    record = json.loads((local / "record.json").read_text())
    record["protocol"]["extractor_version"] = "local-0123456789abcdef"
    (local / "record.json").write_text(json.dumps(record))
    code, _, err = run_cli("publish", str(local), str(tmp_path / "other"))
    assert code == 2 and "local protocol" in err and not (tmp_path / "other").exists()
    unfinished = tmp_path / "x.incomplete"
    unfinished.mkdir()
    code, _, err = run_cli("publish", str(unfinished), str(tmp_path / "other"))
    assert code == 2 and "--resume" in err


def test_publish_refuses_a_second_run_of_a_seed_the_board_holds_before_verifying_it(board, tmp_path):
    """A rerun of seed 0 (another run id) would count as no new seed; its samples are damaged too, so a
    refusal naming the seed, not the samples, shows the check comes before any scoring."""
    folder, run = board
    rerun = tmp_path / (run.name + "-rerun")
    shutil.copytree(run, rerun)
    record = json.loads((rerun / "record.json").read_text())
    (rerun / "record.json").write_text(json.dumps(dict(record, run_id=rerun.name)))
    (rerun / "samples.npz").write_bytes(b"not an npz")
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = run_cli("publish", str(rerun), str(folder))
    assert code == 2 and f"already holds seed 0 of this entry ({run.name})" in err and "--seeds" in err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_verify_refuses_a_path_with_no_runs(tmp_path):
    code, _, err = verify(tmp_path)
    assert code == 2 and "no run folders" in err


@pytest.mark.parametrize("damage, says", [
    (lambda a: a[:, :-2], "holds {short}x{size} images, but the run was scored on {size}x{size} ones"),
    (lambda a: np.repeat(a, 3, axis=-1), "holds 3-channel images, but mnist has 1"),
    (None, "not a samples archive (neither .npz nor .npy)"),
])
def test_verify_refuses_samples_that_are_not_the_runs_before_scoring_any_run(board, tmp_path, damage, says):
    """A damaged ``samples.npz`` anywhere on a board is one line and exit 2 before the first run is scored
    (no ``[1/2]`` progress line), naming the file and what to do: a published run keeps no weights."""
    folder, run = board
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    bad = shutil.copytree(copy / run.name, copy / f"{run.name}-damaged") / "samples.npz"
    if damage is None:
        bad.write_bytes(b"not an archive")
    else:
        np.savez(bad, arr_0=damage(np.load(bad, allow_pickle=False)["arr_0"]))
    code, out, err = verify(copy)
    [line] = err.strip().splitlines()
    size = json.loads((bad.parent / "record.json").read_text())["protocol"]["image_size"]
    assert code == 2 and line.startswith(f"error: {bad}: ") and says.format(size=size, short=size - 2) in line, err
    assert line.endswith("copy it again from the board or run it came from")
