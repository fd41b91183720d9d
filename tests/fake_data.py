"""Small dataset files written in each dataset's real on-disk format."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """idx format: magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    blob = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    blob += array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(blob))
    else:
        path.write_bytes(blob)
    return path


def idx_split(folder: Path, prefix: str, n: int, classes: int, seed: int = 0, compress: bool = True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, classes, size=n, dtype=np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return images, labels


def cifar10(folder: Path, n_per_batch: int = 4, seed: int = 0) -> dict:
    """``cifar-10-batches-py``: pickled dicts with ``data`` (N x 3072, channel-major) and ``labels``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        made[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"]}, f)
    return made


def celeba(folder: Path, n: int = 3, seed: int = 0) -> list:
    """``celeba/``: img_align_celeba/*.jpg (178x218) and the five annotation files."""
    rng = np.random.default_rng(seed)
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)).save(
            folder / "img_align_celeba" / name)
    partitions = [0] * (n - 2) + [2, 2]  # torchvision cannot select a one-image split
    (folder / "list_eval_partition.txt").write_text("".join(f"{m} {p}\n" for m, p in zip(names, partitions)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{m} {i + 1}\n" for i, m in enumerate(names)))
    (folder / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n" + "".join(f"{m} 10 20 100 120\n" for m in names))
    marks = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\n{marks}\n" + "".join(f"{m} 69 109 106 113 77 142 73 152 108 154\n" for m in names))
    (folder / "list_attr_celeba.txt").write_text(
        f"{n}\nSmiling Young\n" + "".join(f"{m} 1 -1\n" for m in names))
    return names


def lsun(folder: Path, n: int = 3, seed: int = 0) -> None:
    """An lmdb database of JPEG-encoded images keyed by hex ids, as LSUN ships."""
    import lmdb

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(folder), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)).save(buf, format="JPEG")
            txn.put(f"{i:040x}".encode(), buf.getvalue())
    env.close()
