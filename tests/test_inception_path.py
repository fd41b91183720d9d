"""The Inception path end to end, offline: torch-fidelity's InceptionV3 architecture with randomly
initialised weights handed in by --inception-weights (the real TF-FID weights cannot be downloaded here)."""
import hashlib
import json

import pytest
import torch

from conftest import SHARED_DATA, needs_shared_mnist, run_cli


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    cls = tfi.FeatureExtractorInceptionV3
    original = cls.load_state_dict
    try:  # build the architecture without its download: skip the loading of weights once
        cls.load_state_dict = lambda self, state, *a, **k: None
        tfi_url = tfi.load_state_dict_from_url
        tfi.load_state_dict_from_url = lambda *a, **k: {}
        torch.manual_seed(0)
        net = cls("inception-v3-compat", ["2048"])
    finally:
        cls.load_state_dict = original
        tfi.load_state_dict_from_url = tfi_url
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@needs_shared_mnist
def test_a_run_scores_through_inception_weights_given_by_path(random_inception, tmp_path):
    code, _, err = run_cli("run", "--model", "sdm-ann", "--dataset", "mnist", "--split", "test", "--data-root",
                           str(SHARED_DATA), "--preset", "smoke", "--train-steps", "2", "--num-samples", "16",
                           "--set", "reference_images=32", "--extractor", "inception",
                           "--set", f"extractor.weights={random_inception}", "--results-dir", str(tmp_path))
    assert code == 0, err
    [run] = list(tmp_path.iterdir())
    record = json.loads((run / "record.json").read_text())
    digest = hashlib.sha256(random_inception.read_bytes()).hexdigest()[:16]
    assert record["protocol"]["extractor"] == "inception"
    assert record["protocol"]["extractor_version"] == digest
    assert record["metrics"]["fid"] >= 0 and record["metrics"]["fid"] == record["metrics"]["fid"]


def test_inception_weights_that_would_run_code_are_refused_unrun(tmp_path):
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.errors import UsageError

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, evil)
    with pytest.raises(UsageError, match="not a plain file of tensors"):
        plugins.get().extractor.get("inception")(None, inception_weights=str(evil))
    assert not marker.exists()
