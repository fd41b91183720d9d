"""The offline FID feature extractor: trained once, cached by content."""
import pytest
import torch

from sdmbench import plugins
from sdmbench.errors import UsageError
from sdmbench_metrics import classifier

import fake_data


@pytest.fixture
def fast_recipe(monkeypatch):
    monkeypatch.setattr(classifier.SMALL_CNN, "steps", 3)
    monkeypatch.setattr(classifier.SMALL_CNN, "batch_size", 8)


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


def test_the_second_extractor_is_another_network_trained_from_another_seed(tmp_path, fast_recipe, monkeypatch):
    monkeypatch.setattr(classifier.RESNET, "steps", 3)
    monkeypatch.setattr(classifier.RESNET, "batch_size", 8)
    data = kmnist(tmp_path / "a", seed=1)
    cnn, resnet = classifier.make_classifier(data), classifier.make_resnet_classifier(data)
    images = data.first(5)
    assert (cnn.name, resnet.name) == ("classifier", "classifier-resnet")
    assert cnn(images).shape == (5, 128) and resnet(images).shape == (5, 256)
    assert cnn.version != resnet.version and classifier.RESNET.seed != classifier.SMALL_CNN.seed
    assert len(list((classifier.cache_dir() / "classifier").glob("*kmnist-train-*.pt"))) == 2
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    again = classifier.make_resnet_classifier(data)  # from the cache, in eval mode: the same features
    assert again.version == resnet.version and torch.equal(again(images), resnet(images))


def test_both_extractors_are_registered_and_the_first_is_the_default():
    registry = plugins.get().extractor
    assert {"classifier", "classifier-resnet"} <= set(registry.names())
    assert registry.default("extractor") == "classifier"
