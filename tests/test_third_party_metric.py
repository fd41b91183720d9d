"""A separate package, installed with pip, that registers a metric
(examples/sdmbench-pixelstats); ``--metrics`` chooses what a run scores."""
import json
import shutil

import pytest

from conftest import REPO, SHARED_DATA, install_example, needs_shared_mnist, run_cli, run_python

TINY = ["--model", "sdm-ann", "--data-root", str(SHARED_DATA), "--dataset", "mnist", "--split", "test",
        "--preset", "smoke", "--train-steps", "2", "--num-samples", "8", "--sample-steps", "2",
        "--set", "sample_batch_size=8", "--set", "reference_images=64"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_example(tmp_path_factory, "sdmbench-pixelstats")


def test_pixel_stats_are_the_gaps_of_the_pixel_moments(installed, tmp_path):
    """By hand: generated pixels {0, 255} (mean 1/2, std 1/2) against reference
    pixels all 51 (mean 0.2, std 0): gaps 0.3 and 0.5."""
    code = ("import torch, json; from sdmbench_pixelstats import PixelStats; "
            "from sdmbench.plugin_api.data import ImageData; from sdmbench.scoring import ScoringContext; "
            "ref = torch.full((4, 1, 2, 2), 51, dtype=torch.uint8); "
            "gen = torch.tensor([0, 255] * 8, dtype=torch.uint8).view(4, 1, 2, 2); "
            "data = ImageData('r', 'train', 1, 2, 2, 4, 'h' * 16, 'mem', images=ref); "
            "ctx = ScoringContext(gen, data, {'reference_images': 4, 'image_size': 2}); "
            "print(json.dumps(PixelStats().compute(ctx).values))")
    proc = run_python(code, installed)
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)
    assert values["pixel_mean_gap"] == pytest.approx(0.3) and values["pixel_std_gap"] == pytest.approx(0.5)


def test_the_installed_metric_passes_check_metric(installed):
    code = ("from sdmbench.plugin_api.testing import check_metric; from sdmbench_pixelstats import PixelStats; "
            "v = check_metric(PixelStats); assert set(v) == {'pixel_mean_gap', 'pixel_std_gap'}; print('ok')")
    proc = run_python(code, installed)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def pixel_run(installed, tmp_path_factory):
    """A folder with one run that scored energy and the third-party metric; and its closing output."""
    folder = tmp_path_factory.mktemp("pixel-runs")
    code, out, err = run_cli("run", *TINY, "--metrics", "energy,pixel-stats", "--results-dir", str(folder),
                             env=installed)
    assert code == 0, err[-2000:]
    return folder, out + err


@needs_shared_mnist
def test_a_chosen_third_party_metric_runs_and_lands_in_the_record(installed, pixel_run):
    tmp_path, output = pixel_run
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert f"pixel mean gap {record['metrics']['pixel_mean_gap']:.4f}" in output  # the closing line
    m, details = record["metrics"], record["details"]["pixel-stats"]
    assert record["config"]["metrics"] == ["energy", "pixel-stats"] and "fid" not in m
    assert m["pixel_mean_gap"] == pytest.approx(abs(details["generated_mean"] - details["reference_mean"]))
    # the reference statistic is the data's own: MNIST's first 64 test digits at 16 px
    from sdmbench.plugin_api import loader as plugins

    data = plugins.get().dataset.get("mnist")(str(SHARED_DATA), "test", 16)
    assert details["reference_mean"] == pytest.approx(float(data.first(64).double().mean() / 255))
    assert m["energy_per_image_mj"] > 0
    assert record["protocol"]["extractor"] is None  # no chosen metric reads features: no extractor was built
    _shows_in_every_format(installed, tmp_path, m)


def _shows_in_every_format(installed, folder, m):
    """The metric's declared columns reach the closing line, every board format and the site, with no
    core change: the values as the column rounds them (4 digits)."""
    mean, std = round(m["pixel_mean_gap"], 4), round(m["pixel_std_gap"], 4)
    code, out, err = run_cli("leaderboard", "--results-dir", str(folder), "--format", "markdown", env=installed)
    assert code == 0 and "| mean gap | std gap |" in out and f"| {mean} | {std} |" in out, out + err
    code, out, err = run_cli("leaderboard", "--results-dir", str(folder), "--format", "csv", env=installed)
    header, row = out.splitlines()[:2]
    assert "pixel_mean_gap,pixel_mean_gap_ci_low,pixel_mean_gap_ci_high,pixel_std_gap" in header
    assert dict(zip(header.split(","), row.split(",")))["pixel_std_gap"] == str(std)
    code, out, err = run_cli("leaderboard", "--results-dir", str(folder), "--format", "json", env=installed)
    assert json.loads(out)[0]["pixel_mean_gap"] == mean
    code, out, err = run_cli("leaderboard", "--results-dir", str(folder), "--format", "html", "--out",
                             str(folder / "site"), env=installed)
    page = (folder / "site" / "index.html").read_text()
    assert code == 0 and ">mean gap</th>" in page and f">{mean}</a>" in page


def test_a_metric_a_reader_has_installed_adds_no_column_to_a_board_none_of_whose_runs_ran_it(installed):
    code, out, err = run_cli("leaderboard", "--results-dir", "leaderboard", "--format", "markdown", env=installed,
                             cwd=REPO)
    assert code == 0, err
    assert out == (REPO / "leaderboard" / "README.md").read_text()  # what verify compares: the same table


@needs_shared_mnist
def test_a_board_holding_a_metric_not_installed_here_is_not_re_derivable_here_not_a_mismatch(installed, pixel_run,
                                                                                             tmp_path):
    from sdmbench.board import verify
    from sdmbench.cli.leaderboard import board_markdown, made_elsewhere
    from sdmbench.plugin_api import loader

    runs, _ = pixel_run
    [run] = [p.parent for p in runs.glob("*/record.json")]
    board = tmp_path / "board"
    shutil.copytree(run, board / run.name)
    code, table, err = run_cli("leaderboard", "--results-dir", str(board), "--format", "markdown", env=installed)
    assert code == 0 and "| mean gap | std gap |" in table and "| FID |" not in table, err  # held columns only
    (board / "README.md").write_text(table)
    plugins = loader.get()
    [finding] = verify.verify_board(board, board_markdown(board, plugins), made_elsewhere(board, plugins))
    assert finding.status == verify.UNDERIVABLE and run.name in finding.recomputed


def test_without_metrics_the_registered_defaults_run():
    from sdmbench.plugin_api import loader as plugins

    assert plugins.build().metric.defaults() == ["energy", "fid", "kid", "prc"]  # pixel-stats is not installed here


@pytest.mark.parametrize("flag, needle", [
    ("fid,pixl-stats", "unknown metric 'pixl-stats'. Did you mean 'pixel-stats'?"),
    (",", "--metrics takes names separated by commas"),
])
def test_an_unknown_metric_is_a_one_line_error_with_a_did_you_mean(installed, tmp_path, flag, needle):
    code, out, err = run_cli("run", *TINY, "--metrics", flag, "--results-dir", str(tmp_path), env=installed)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert not list(tmp_path.iterdir())
