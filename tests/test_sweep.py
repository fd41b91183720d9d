"""Threshold guidance sweep over a trained run."""
import json

import pytest

from conftest import configure_from as resolve
from sdmbench.running.runner import execute

from conftest import SHARED_DATA, needs_shared_mnist, run_cli
from test_runner import TINY


@pytest.fixture
def trained_tiny_run(tmp_path):
    # the classifier cache is shared with the subprocess through SDMBENCH_CACHE
    config = resolve(TINY, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path), "reference_images": 32,
                            "num_samples": 8, "sample_batch_size": 8})
    return execute(config, log=lambda *a: None).folder


@needs_shared_mnist
def test_sweep_prints_seven_rows_saves_a_plot_and_a_record_per_value(trained_tiny_run):
    code, out, err = run_cli("sweep-threshold", str(trained_tiny_run))
    assert code == 0, err[-2000:]
    rows = [line for line in out.splitlines() if line.startswith("│") and "v_th" not in line]
    assert len(rows) == 7
    assert (trained_tiny_run / "threshold-sweep.png").read_bytes()[:4] == b"\x89PNG"
    sweep = json.loads((trained_tiny_run / "threshold-sweep.json").read_text())
    assert [r["threshold"] for r in sweep["rows"]] == [0.997, 0.998, 0.999, 1.0, 1.001, 1.002, 1.003]
    assert len({r["protocol_key"] for r in sweep["rows"]}) == 1  # all under the run's protocol
    records = [json.loads(p.read_text()) for p in trained_tiny_run.parent.glob("*/record.json")]
    assert sorted(r["threshold"] for r in records if r.get("resumed_from")) == [0.997, 0.998, 0.999, 1.0, 1.001,
                                                                                 1.002, 1.003]
    base = json.loads((trained_tiny_run / "record.json").read_text())
    at_one = next(r for r in sweep["rows"] if r["threshold"] == 1.0)
    # same weights, same seed, same threshold: the same samples, scored again (float64 features: equal to rounding)
    assert at_one["fid"] == pytest.approx(base["metrics"]["fid"], rel=1e-9)


def test_sweep_refuses_bad_values_and_missing_runs(tmp_path):
    code, _, err = run_cli("sweep-threshold", str(tmp_path), "--values", "1.0,abc")
    assert code == 2 and "--values" in err
    code, _, err = run_cli("sweep-threshold", str(tmp_path / "nope"))
    assert code == 2 and "no run folder" in err
