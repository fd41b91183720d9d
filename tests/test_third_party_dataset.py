"""A separate package, installed with pip, that registers a dataset
(examples/sdmbench-imagefolder), checked with ``sdmbench.plugin_api.testing.check_dataset``."""
import json

import pytest

from conftest import SHARED_DATA, install_example, needs_shared_mnist, run_cli, run_python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_example(tmp_path_factory, "sdmbench-imagefolder")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The first 60 MNIST test digits as PNG files in class folders (ImageFolder's layout)."""
    from PIL import Image

    from sdmbench.plugin_api import loader as plugins

    data = plugins.get().dataset.get("mnist")(str(SHARED_DATA), "test", 28)
    root = tmp_path_factory.mktemp("images")
    for i in range(60):
        path = root / "image-folder" / "train" / f"digit{int(data.labels[i])}" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.images[i, 0].numpy()).save(path)
    return root, data


@needs_shared_mnist
def test_the_installed_dataset_passes_check_dataset(installed, folder):
    root, _ = folder
    proc = run_python("from sdmbench.plugin_api.testing import check_dataset; from sdmbench_imagefolder import load_image_folder; "
                   f"check_dataset(load_image_folder, root={str(root)!r}); print('contract ok')", installed)
    assert proc.returncode == 0 and "contract ok" in proc.stdout, proc.stderr


@needs_shared_mnist
def test_the_folder_reads_back_the_pixels_and_labels_it_was_written_from(installed, folder):
    root, data = folder
    proc = run_python("import json; from sdmbench_imagefolder import load_image_folder; "
                   f"d = load_image_folder({str(root)!r}, 'train', None); "
                   "print(json.dumps([d.channels, d.native_size, d.num_classes, d.images.sum().item(), "
                   "sorted(d.labels.bincount().tolist())]))", installed)
    assert proc.returncode == 0, proc.stderr
    channels, size, classes, total, counts = json.loads(proc.stdout)
    labels = data.labels[:60]
    assert (channels, size, classes) == (1, 28, len(set(labels.tolist())))
    assert total == int(data.images[:60].sum())  # PNG is lossless: the same pixels
    assert counts == sorted(labels.bincount()[labels.bincount() > 0].tolist())


@needs_shared_mnist
def test_sdm_trains_on_the_third_party_dataset(installed, folder, tmp_path):
    root, _ = folder
    code, out, err = run_cli("run", "--model", "sdm", "--dataset", "image-folder", "--data-root", str(root),
                             "--preset", "smoke", "--train-steps", "2", "--num-samples", "8", "--sample-steps", "2",
                             "--set", "sample_batch_size=8", "--metrics", "energy", "--results-dir", str(tmp_path),
                             env=installed)
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["dataset"] == "image-folder" and record["protocol"]["reference_images"] == 60


def test_a_missing_folder_is_a_one_line_error(installed, tmp_path):
    code, out, err = run_cli("run", "--dataset", "image-folder", "--data-root", str(tmp_path),
                             "--results-dir", str(tmp_path / "r"), env=installed)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "image-folder/train" in lines[0], err
