"""Datasets: the real offline files, and small generated files in every
other dataset's real on-disk format, in both accepted layouts."""
import gzip
import hashlib
import pickle

import numpy as np
import pytest
import torch

from sdmbench.plugin_api import loader as plugins
from sdmbench.errors import UsageError

import fake_data
from conftest import DEBIAN_FMNIST, SHARED_DATA, needs_debian_fmnist, needs_shared_mnist


def load(name, root=None, split="train", image_size=None):
    return plugins.get().dataset.get(name)(str(root) if root else None, split, image_size)


@needs_shared_mnist
def test_offline_mnist_test_split_is_the_canonical_one():
    data = load("mnist", SHARED_DATA, "test")
    assert len(data) == 10_000 and data.channels == 1 and data.native_size == 28
    assert data.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(data.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    raw = gzip.decompress((SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    assert data.images.numpy().tobytes() == raw[16:]


@needs_shared_mnist
def test_batches_come_resized_to_the_run_image_size():
    data = load("mnist", SHARED_DATA, "test", image_size=16)
    batch = data.get([0, 1])
    assert batch.shape == (2, 1, 16, 16) and batch.dtype == torch.uint8
    assert data.get([0], size=28).equal(data.images[:1])


@needs_debian_fmnist
def test_fashion_mnist_is_found_in_the_debian_package_location_without_a_data_root():
    train, test = load("fashion-mnist"), load("fashion-mnist", split="test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.source == str(DEBIAN_FMNIST)
    assert torch.bincount(train.labels).tolist() == [6000] * 10


@pytest.mark.parametrize("compress", [True, False])
def test_torchvision_layout_plain_or_gz(tmp_path, compress):
    images, labels = fake_data.idx_split(tmp_path / "MNIST" / "raw", "train", 5, 10, compress=compress)
    data = load("mnist", tmp_path, "train")
    assert data.images[:, 0].numpy().tolist() == images.tolist()
    assert data.labels.tolist() == labels.tolist()


@pytest.mark.parametrize("name,prefix,classes", [("kmnist", "t10k", 10),
                                                 ("emnist-letters", "emnist-letters-test", 27)])
def test_dataset_named_folder_layout(tmp_path, name, prefix, classes):
    images, labels = fake_data.idx_split(tmp_path / name, prefix, 6, classes)
    data = load(name, tmp_path, "test")
    expected = images.transpose(0, 2, 1) if name == "emnist-letters" else images  # EMNIST files are transposed
    assert data.images[:, 0].numpy().tolist() == expected.tolist()
    assert data.num_classes == classes


def test_cifar10_pickled_batches(tmp_path):
    made = fake_data.cifar10(tmp_path / "cifar10" / "cifar-10-batches-py")
    data = load("cifar10", tmp_path, "test")
    pixels, labels = made["test_batch"]
    assert data.images.shape == (4, 3, 32, 32)
    assert data.images.reshape(4, -1).numpy().tolist() == pixels.tolist()
    assert data.labels.tolist() == labels
    assert len(load("cifar10", tmp_path, "train")) == 20


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: a file appears if the reader runs code from the data."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("batch", ["data_batch_1", "batches.meta"])
def test_a_crafted_cifar10_pickle_runs_no_code(tmp_path, batch):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    fake_data.cifar10(folder)
    marker = tmp_path / "pwned"
    (folder / batch).write_bytes(pickle.dumps({"data": CreatesAFile(marker), "labels": [0]}))
    with pytest.raises(UsageError, match=r"refused CIFAR-10 files.*\.open, .*nothing in them was run"):
        load("cifar10", tmp_path, "train")
    assert not marker.exists()
    assert pickle.loads((folder / batch).read_bytes()) and marker.exists()  # the file really would have run it


def test_the_restricted_unpickler_reads_numpy_arrays_and_containers():
    from sdmbench.plugin_api import safe_pickle

    value = {"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [1, 2], b"name": "x"}
    back = safe_pickle.loads_arrays(pickle.dumps(value, protocol=2))
    assert back["data"].tolist() == [[0, 1, 2], [3, 4, 5]] and back["labels"] == [1, 2] and back[b"name"] == "x"


def test_celeba_folder_is_cropped_and_resized_to_64(tmp_path):
    fake_data.celeba(tmp_path / "celeba", n=4)
    train = load("celeba", tmp_path, "train")
    assert len(train) == 2 and len(load("celeba", tmp_path, "test")) == 2
    assert train.first(2).shape == (2, 3, 64, 64)
    assert train.labels is None


def test_lsun_bedroom_lmdb(tmp_path):
    pytest.importorskip("lmdb")
    fake_data.lsun(tmp_path / "lsun-bedroom" / "bedroom_train_lmdb", n=3)
    data = load("lsun-bedroom", tmp_path, "train", image_size=32)
    assert len(data) == 3 and data.first(3).shape == (3, 3, 32, 32)


def test_missing_data_names_the_places_tried_and_how_to_get_it(tmp_path):
    with pytest.raises(UsageError) as err:
        load("kmnist", tmp_path, "train")
    message = str(err.value)
    assert "not found" in message and str(tmp_path / "kmnist") in message and "--data-root" in message
    assert "\n" not in message


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    folder = tmp_path / "kmnist"
    fake_data.idx_split(folder, "train", 3, 10)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not a gzip file")
    with pytest.raises(UsageError, match="corrupt"):
        load("kmnist", tmp_path, "train")


def test_content_hash_changes_with_the_content(tmp_path):
    fake_data.idx_split(tmp_path / "a" / "kmnist", "train", 4, 10, seed=1)
    fake_data.idx_split(tmp_path / "b" / "kmnist", "train", 4, 10, seed=2)
    assert load("kmnist", tmp_path / "a").content_hash != load("kmnist", tmp_path / "b").content_hash
    assert load("kmnist", tmp_path / "a").content_hash == load("kmnist", tmp_path / "a").content_hash


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(UsageError, match="splits train and test"):
        load("mnist", tmp_path, "validation")
