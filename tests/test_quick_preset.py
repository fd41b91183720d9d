"""The quick preset end to end (about 15 minutes on 2 CPU cores): slow, run
with ``tox -e slow``."""
import json

import pytest

from conftest import needs_debian_fmnist, run_cli


@pytest.mark.slow
@needs_debian_fmnist
@pytest.mark.parametrize("model", ["sdm", "sdm-ann"])
def test_quick_preset_on_fashion_mnist(tmp_path, model):
    code, out, err = run_cli("run", "--model", model, "--neuron", "if", "--dataset", "fashion-mnist",
                             "--preset", "quick", "--results-dir", str(tmp_path))
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["protocol"]["num_samples"] == 1000 and record["metrics"]["fid"] > 0


@pytest.mark.slow
@needs_debian_fmnist
def test_quick_conversion_with_fine_tuning_on_fashion_mnist(tmp_path):
    code, out, err = run_cli("run", "--model", "sdm-converted", "--set", "fine_tune=true", "--dataset", "fashion-mnist",
                             "--preset", "quick", "--results-dir", str(tmp_path))
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    m = record["metrics"]
    assert record["T"] == 3 and list(record["stages"]) == ["ann", "finetune"]
    assert m["fid"] > 0 and m["ann_fid"] > 0 and m["converted_fid"] > 0
    assert m["energy_per_image_mj"] < m["ann_energy_per_image_mj"]
