"""The offline FID feature extractor: trained once, cached by content."""
import pytest
import torch

from sdmbench import plugins
from sdmbench.errors import UsageError
from sdmbench_metrics import classifier

import fake_data


@pytest.fixture
def fast_recipe(monkeypatch):
    monkeypatch.setitem(classifier.RECIPE, "steps", 3)
    monkeypatch.setitem(classifier.RECIPE, "batch_size", 8)


def kmnist(root, seed):
    fake_data.idx_split(root / "kmnist", "train", 20, 10, seed=seed)
    return plugins.get().dataset.get("kmnist")(str(root), "train", 16)


def test_trained_once_then_loaded_from_the_cache(tmp_path, fast_recipe, monkeypatch):
    data = kmnist(tmp_path / "a", seed=1)
    first = classifier.make_classifier(data)
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    second = classifier.make_classifier(data)
    assert first.version == second.version
    images = data.first(5)
    assert torch.allclose(first(images), second(images))
    assert first(images).shape == (5, 128) and first(images).dtype == torch.float64


def test_training_is_deterministic_and_the_key_follows_the_content(tmp_path, fast_recipe):
    a = classifier.train_classifier(kmnist(tmp_path / "a", seed=1), 28)
    again = classifier.train_classifier(kmnist(tmp_path / "a", seed=1), 28)
    other = classifier.train_classifier(kmnist(tmp_path / "b", seed=2), 28)
    assert classifier.weights_hash(a.state_dict()) == classifier.weights_hash(again.state_dict())
    assert classifier.weights_hash(a.state_dict()) != classifier.weights_hash(other.state_dict())


def test_a_corrupt_cache_entry_is_retrained(tmp_path, fast_recipe):
    data = kmnist(tmp_path / "a", seed=1)
    version = classifier.make_classifier(data).version
    [cached] = list((classifier.cache_dir() / "classifier").glob("kmnist-train-*.pt"))
    cached.write_bytes(b"garbage")
    assert classifier.make_classifier(data).version == version


def test_datasets_without_labels_point_to_inception(tmp_path):
    fake_data.celeba(tmp_path / "celeba", n=4)
    data = plugins.get().dataset.get("celeba")(str(tmp_path), "train", 16)
    with pytest.raises(UsageError, match="--extractor inception"):
        classifier.make_classifier(data)


def test_inception_without_weights_offline_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        plugins.get().extractor.get("inception")(None, inception_weights=str(tmp_path / "missing.pth"))
