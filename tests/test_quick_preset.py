"""The quick preset end to end (about 15 minutes on 2 CPU cores): slow, run
with ``tox -e slow``."""
import json
import time

import pytest

from conftest import needs_debian_fmnist, run_cli


@pytest.mark.slow
@needs_debian_fmnist
@pytest.mark.parametrize("model", ["sdm", "ddpm"])
def test_quick_preset_on_fashion_mnist(tmp_path, model):
    start = time.perf_counter()
    code, out, err = run_cli("run", "--model", model, "--neuron", "if", "--dataset", "fashion-mnist",
                             "--preset", "quick", "--results-dir", str(tmp_path), timeout=3600)
    minutes = (time.perf_counter() - start) / 60
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["protocol"]["num_samples"] == 500 and record["metrics"]["fid"] > 0
    assert minutes < 25, f"quick preset took {minutes:.1f} minutes"
