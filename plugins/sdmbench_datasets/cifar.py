"""CIFAR-10 through torchvision (``cifar-10-batches-py``: pickled batches).

Layouts under a root R: ``R/cifar10/cifar-10-batches-py/``,
``R/cifar10/`` holding the batch files, or torchvision's
``R/cifar-10-batches-py/``. Files are checked by loading, not by MD5, so a
re-packed copy works; a corrupt file is a one-line error.

The batches are pickles, and torchvision reads them with ``pickle.load``,
which runs any callable a file names. sdmbench keeps torchvision's class and
layout but reads every batch with :func:`sdmbench.plugin_api.safe_pickle.load_arrays`, which
admits only what NumPy arrays are rebuilt from: a crafted batch file is
refused before anything in it runs.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torchvision import datasets as tvd

from sdmbench.plugin_api import safe_pickle
from sdmbench.plugin_api.data import ImageData, content_hash, download, download_root, user_roots
from sdmbench.errors import UsageError

FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
         "batches.meta"]


class _CIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10 with existence instead of MD5 checks, and batches
    read by the restricted unpickler (torchvision's own reader runs code)."""

    def __init__(self, root: str, train: bool = True, download: bool = False):
        tvd.VisionDataset.__init__(self, root)
        self.train = train
        if download:
            self.download()
        batches = self.train_list if train else self.test_list
        entries = [self._read(name) for name, _ in batches]
        self.data = np.vstack([e["data"] for e in entries]).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self.targets = [label for e in entries for label in e.get("labels", e.get("fine_labels", []))]
        self._load_meta()

    def _read(self, name: str) -> dict:
        with open(Path(self.root) / self.base_folder / name, "rb") as f:
            return safe_pickle.load_arrays(f)

    def _check_integrity(self) -> bool:
        return all((Path(self.root) / self.base_folder / f).is_file() for f in FILES)

    def _load_meta(self) -> None:
        self.classes = self._read(self.meta["filename"])[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


def load_cifar10(root: Optional[str] = None, split: str = "train", image_size: Optional[int] = None) -> ImageData:
    if split not in ("train", "test"):
        raise UsageError(f"dataset 'cifar10' has splits train and test, not '{split}'")
    candidates = []  # (torchvision root, base folder)
    for r in user_roots(root):
        candidates += [(r / "cifar10", "cifar-10-batches-py"), (r, "cifar10"), (r, "cifar-10-batches-py")]
    candidates.append((download_root(), "cifar-10-batches-py"))
    tried = [r / b for r, b in candidates]
    for r, base in candidates:
        if all((r / base / f).is_file() for f in FILES):
            cls = type("_CIFAR10At", (_CIFAR10,), {"base_folder": base})
            try:
                tv = cls(str(r), train=(split == "train"))
            except safe_pickle.UnsafePickle as exc:
                raise UsageError(f"refused CIFAR-10 files in {r / base}: {exc}; nothing in them was run. "
                                 "Replace them with a fresh copy") from None
            except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as exc:
                raise UsageError(f"corrupt CIFAR-10 files in {r / base}: {type(exc).__name__}; "
                                 "replace them with a fresh copy") from None
            source = str(r / base)
            break
    else:
        how = ("Unpack cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) into DIR/cifar10/ "
               "and pass --data-root DIR.")
        tv = download("cifar10", tried, how,
                      lambda: _CIFAR10(str(download_root()), train=(split == "train"), download=True))
        source = str(download_root() / "cifar-10-batches-py")
    images = torch.from_numpy(tv.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(tv.targets, dtype=torch.long)
    return ImageData(name="cifar10", split=split, channels=3, native_size=32, image_size=image_size or 32,
                     length=len(images), content_hash=content_hash(images, labels), source=source,
                     images=images, labels=labels, num_classes=10)
