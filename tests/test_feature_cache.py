"""The reference's features on disk: a second scoring of one reference extracts only a probe of it, and a
file that does not give the probe's features, or cannot be read, is computed again."""
import pytest
import torch

from conftest import SHARED_DATA, needs_shared_mnist
from sdmbench.plugin_api.data import content_hash
from sdmbench.scoring import feature_cache
from sdmbench.scoring.extractor import CachedExtractor, FeatureExtractor
from sdmbench.scoring.feature_cache import PROBE, cache_path, reference_features


class Moments(FeatureExtractor):
    """Per image: mean, standard deviation and maximum of its pixels, times ``scale``; counts what it reads."""

    name, version, dim = "moments", "v1", 3

    def __init__(self, scale=1.0):
        self.scale, self.seen = scale, 0

    def features(self, images):
        self.seen += len(images)
        x = images.double().flatten(1)
        return torch.stack([x.mean(1), x.std(1), x.amax(1)], 1) * self.scale


IMAGES = torch.randint(0, 256, (100, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SDMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SDMBENCH_FEATURE_CACHE", raising=False)
    return tmp_path / "cache"


def by_hand(images, scale=1.0):
    x = images.double().flatten(1)
    return torch.stack([x.mean(1), x.std(1), x.amax(1)], 1) * scale


def test_a_second_scoring_extracts_only_the_probe_and_gets_the_same_features():
    first, again = Moments(), Moments()
    features = reference_features(first, IMAGES)
    assert first.seen == 100 and torch.equal(features, by_hand(IMAGES))
    assert cache_path(first, content_hash(IMAGES)).is_file()
    assert torch.equal(reference_features(again, IMAGES), features) and again.seen == PROBE


def test_other_images_or_another_version_are_another_file():
    a = cache_path(Moments(), content_hash(IMAGES))
    assert cache_path(Moments(), content_hash(IMAGES[:99])) != a
    assert cache_path(Moments(), content_hash(IMAGES.flip(0))) != a
    other = Moments()
    other.version = "v2"
    assert cache_path(other, content_hash(IMAGES)) != a


def test_an_extractor_changed_without_a_new_version_computes_them_again():
    reference_features(Moments(), IMAGES)
    changed = Moments(scale=2.0)  # same name and version, other features: the probe tells
    features = reference_features(changed, IMAGES)
    assert changed.seen == PROBE + 100 and torch.equal(features, by_hand(IMAGES, 2.0))
    later = Moments(scale=2.0)
    assert torch.equal(reference_features(later, IMAGES), features) and later.seen == PROBE  # the file was replaced


def test_a_damaged_file_is_computed_again_and_replaced():
    path = cache_path(Moments(), content_hash(IMAGES))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not safetensors")
    fresh = Moments()
    assert torch.equal(reference_features(fresh, IMAGES), by_hand(IMAGES)) and fresh.seen == 100
    assert torch.equal(reference_features(Moments(), IMAGES), by_hand(IMAGES))
    path.write_bytes(path.read_bytes()[:200])  # cut short
    assert torch.equal(reference_features(Moments(), IMAGES), by_hand(IMAGES))


def test_the_cache_can_be_turned_off_and_one_that_cannot_be_written_is_skipped(own_cache, monkeypatch):
    monkeypatch.setenv("SDMBENCH_FEATURE_CACHE", "0")
    reference_features(Moments(), IMAGES)
    assert not own_cache.exists()
    monkeypatch.delenv("SDMBENCH_FEATURE_CACHE")
    own_cache.parent.mkdir(exist_ok=True)
    own_cache.write_text("a file where the cache folder would be")
    extractor = Moments()
    assert torch.equal(reference_features(extractor, IMAGES), by_hand(IMAGES)) and extractor.seen == 100


def test_progress_counts_every_image_whether_or_not_it_was_extracted():
    for _ in range(2):
        counted = []
        reference_features(Moments(), IMAGES, on_batch=counted.append)
        assert sum(counted) == 100


def test_an_in_memory_cache_answers_before_the_disk_and_learns_from_it():
    reference_features(Moments(), IMAGES)
    inner = Moments()
    remembering = CachedExtractor(inner)
    reference_features(remembering, IMAGES)  # from disk: reads the probe only, and keeps the rows
    assert inner.seen == PROBE and remembering.remembers(content_hash(IMAGES))
    reference_features(remembering, IMAGES)
    assert inner.seen == PROBE  # neither extracted nor read again


def test_a_few_images_are_not_cached():
    few = IMAGES[:PROBE]
    reference_features(Moments(), few)
    assert not cache_path(Moments(), content_hash(few)).exists()


@needs_shared_mnist
def test_the_pinned_classifier_proves_its_file_so_a_run_reads_its_reference_once(monkeypatch):
    """Through the real extractor: the probe's features, extracted in a batch of 16, are the file's rows
    extracted in batches of 500, so the file is used, and it holds what a cache-free scoring computes."""
    from sdmbench.plugin_api import loader as plugins

    data = plugins.get().dataset.get("mnist")(str(SHARED_DATA), "test", 16)
    images = data.first(600)
    extractor = plugins.get().extractor.get("classifier-resnet")(data)
    monkeypatch.setenv("SDMBENCH_FEATURE_CACHE", "0")
    plain = extractor(images)
    monkeypatch.setenv("SDMBENCH_FEATURE_CACHE", "1")
    reference_features(extractor, images)
    calls = []
    real = FeatureExtractor.__call__
    monkeypatch.setattr(type(extractor), "__call__", lambda self, x, *a, **k: calls.append(len(x)) or real(self, x, *a, **k))
    again = reference_features(extractor, images)
    assert calls == [PROBE]
    assert torch.allclose(again, plain, rtol=0, atol=feature_cache.TOLERANCE * plain.abs().max())
