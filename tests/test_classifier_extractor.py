"""The offline FID feature extractors: pinned weights shipped with sdmbench, checked by SHA-256;
local weights only on request, under a local protocol; scoring never trains."""
import shutil

import pytest
import torch

from sdmbench.plugin_api import loader as plugins
from sdmbench.errors import UsageError
from sdmbench.scoring.protocol import describe, is_local
from sdmbench_metrics import classifier, extractor_cli, pinned

import fake_data
from conftest import SHARED_DATA, needs_debian_fmnist, needs_shared_mnist


@pytest.fixture
def fast_recipes(monkeypatch):
    for recipe in (classifier.SMALL_CNN, classifier.RESNET):
        monkeypatch.setattr(recipe, "epochs", 1)
        monkeypatch.setattr(recipe, "batch_size", 8)


def kmnist(root, seed, split="train"):
    fake_data.idx_split(root / "kmnist", "train" if split == "train" else "t10k", 20, 10, seed=seed)
    return plugins.get().dataset.get("kmnist")(str(root), split, 16)


def test_every_pinned_file_is_shipped_small_and_has_its_pinned_hash():
    assert {("classifier", "fashion-mnist"), ("classifier-resnet", "fashion-mnist"),
            ("classifier", "mnist"), ("classifier-resnet", "mnist")} <= set(pinned.PINNED)
    for (name, dataset), digest in pinned.PINNED.items():
        path = pinned.pinned_path(name, dataset)
        assert path.stat().st_size < 4 * 2 ** 20
        assert pinned.file_hash(path) == digest
        _, meta = pinned.read(path, "test")
        assert (meta["extractor"], meta["dataset"]) == (name, dataset)


@needs_debian_fmnist
def test_scoring_loads_the_pinned_weights_and_never_trains(monkeypatch):
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("scoring trained"))
    data = plugins.get().dataset.get("fashion-mnist")(None, "train", 32)
    cnn, resnet = classifier.make_classifier(data), classifier.make_resnet_classifier(data)
    assert cnn.version == pinned.PINNED[("classifier", "fashion-mnist")][:16]
    assert resnet.version == pinned.PINNED[("classifier-resnet", "fashion-mnist")][:16]
    images = data.first(5)
    assert cnn(images).shape == (5, 128) and resnet(images).shape == (5, 256)
    assert cnn(images).dtype == torch.float64


@needs_debian_fmnist
def test_the_pinned_classifiers_recognise_held_out_images():
    """Accuracy on the 10000 test images the weights never saw (measured when pinned: see their metadata)."""
    test = plugins.get().dataset.get("fashion-mnist")(None, "test", 32)
    for name, floor in (("classifier", 0.90), ("classifier-resnet", 0.92)):
        extractor = plugins.get().extractor.get(name)(test)
        acc = classifier.accuracy(extractor.model, test, extractor.size, torch.arange(2000))
        assert acc >= floor - 0.02  # 2000 of the 10000: within its sampling error of the pinned figure
        _, meta = pinned.read(pinned.pinned_path(name, "fashion-mnist"), "test")
        assert float(meta["accuracy"]) >= floor


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_tampered_or_truncated_pinned_file_is_a_one_line_error(tmp_path, monkeypatch, damage):
    shutil.copytree(pinned.WEIGHTS_DIR, tmp_path / "weights")
    monkeypatch.setattr(pinned, "WEIGHTS_DIR", tmp_path / "weights")
    path = pinned.pinned_path("classifier", "mnist")
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[-7] ^= 0xFF
    else:
        blob = blob[: len(blob) // 2]
    path.write_bytes(bytes(blob))
    with pytest.raises(UsageError, match="damaged or was changed") as err:
        pinned.load("classifier", "mnist")
    assert "\n" not in str(err.value)


def test_a_file_that_is_not_safetensors_is_a_one_line_error(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x80\x04not safetensors at all")
    with pytest.raises(UsageError, match="not a readable safetensors file"):
        pinned.read(bad, "local classifier weights")


def test_a_dataset_without_shipped_weights_asks_for_explicit_training(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("scoring trained"))
    with pytest.raises(UsageError, match="sdmbench extractor train kmnist"):
        classifier.make_classifier(kmnist(tmp_path, seed=1))


def test_local_weights_make_a_local_protocol(tmp_path, fast_recipes):
    kmnist(tmp_path, seed=1)
    kmnist(tmp_path, seed=2, split="test")
    written = extractor_cli.train_weights(plugins.get(), "kmnist", "classifier", str(tmp_path), log=lambda m: None)
    assert written["held_out"] == "test (20 images)" and 0 <= written["accuracy"] <= 1
    extractor = classifier.make_classifier(kmnist(tmp_path, seed=1))
    protocol = {"extractor": "classifier", "extractor_version": extractor.version}
    assert is_local(protocol) and extractor.version == "local-" + pinned.file_hash(pinned.local_path(
        "classifier", "kmnist"))[:16]
    assert "local protocol" in describe(dict(protocol, num_samples=2, reference_images=2, reference_split="train",
                                             image_size=16))


def test_one_split_only_holds_out_its_last_fifth(tmp_path):
    kmnist(tmp_path, seed=1, split="test")
    train, held, rows, held_rows = extractor_cli._splits(plugins.get(), "kmnist", str(tmp_path))
    assert train is held and rows.tolist() == list(range(16)) and held_rows.tolist() == [16, 17, 18, 19]


def test_training_is_deterministic_and_follows_the_data(tmp_path, fast_recipes):
    a = classifier.train_classifier(kmnist(tmp_path / "a", seed=1), 28)
    again = classifier.train_classifier(kmnist(tmp_path / "a", seed=1), 28)
    other = classifier.train_classifier(kmnist(tmp_path / "b", seed=2), 28)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), again.state_dict().values()))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), other.state_dict().values()))


def test_datasets_without_labels_point_to_inception(tmp_path):
    fake_data.celeba(tmp_path / "celeba", n=4)
    data = plugins.get().dataset.get("celeba")(str(tmp_path), "train", 16)
    with pytest.raises(UsageError, match="--extractor inception"):
        classifier.make_classifier(data)


def test_inception_without_weights_offline_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        plugins.get().extractor.get("inception")(None, weights=str(tmp_path / "missing.pth"))


@needs_shared_mnist
def test_the_two_extractors_are_two_networks(tmp_path):
    data = plugins.get().dataset.get("mnist")(str(SHARED_DATA), "test", 16)
    cnn, resnet = classifier.make_classifier(data), classifier.make_resnet_classifier(data)
    assert (cnn.name, resnet.name) == ("classifier", "classifier-resnet")
    assert cnn.version != resnet.version and classifier.RESNET.seed != classifier.SMALL_CNN.seed
    images = data.first(5)
    assert torch.equal(resnet(images), classifier.make_resnet_classifier(data)(images))  # eval mode: stable


def test_both_extractors_are_registered_and_the_resnet_is_the_default():
    registry = plugins.get().extractor
    assert {"classifier", "classifier-resnet"} <= set(registry.names())
    assert registry.default("extractor") == "classifier-resnet"  # it separates entries best (issue 30)


def test_the_extractor_train_command_refuses_unknown_names_before_work():
    from conftest import run_cli

    code, _, err = run_cli("extractor", "train", "nope")
    assert code == 2 and err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("extractor", "train", "kmnist", "--extractor", "vgg")
    assert code == 2 and "classifier, classifier-resnet or all" in err



@needs_shared_mnist
def test_a_cached_extractor_extracts_each_image_set_once_and_gives_the_same_features():
    from sdmbench.scoring.extractor import CachedExtractor

    data = plugins.get().dataset.get("mnist")(str(SHARED_DATA), "test", 16)
    inner = classifier.make_classifier(data)
    calls = []
    original = inner.features
    inner.features = lambda images: calls.append(len(images)) or original(images)
    cached = CachedExtractor(inner)
    a, b = data.first(30), data.get(torch.arange(30, 50))
    first = cached(a)
    assert torch.equal(first, cached(a.clone())) and calls == [30]  # the same bytes: no second pass
    assert torch.equal(cached(b), inner(b)) and cached.version == inner.version and cached.size == inner.size
