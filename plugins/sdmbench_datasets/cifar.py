"""CIFAR-10 through torchvision (``cifar-10-batches-py``: pickled batches).

Layouts under a root R: ``R/cifar10/cifar-10-batches-py/``,
``R/cifar10/`` holding the batch files, or torchvision's
``R/cifar-10-batches-py/``. Files are checked by loading, not by MD5, so a
re-packed copy works; a corrupt file is a one-line error.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import torch
from torchvision import datasets as tvd

from sdmbench.data import ImageData, content_hash, download, download_root, user_roots
from sdmbench.errors import UsageError

FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
         "batches.meta"]


class _CIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10 with existence instead of MD5 checks."""

    def _check_integrity(self) -> bool:
        return all((Path(self.root) / self.base_folder / f).is_file() for f in FILES)

    def _load_meta(self) -> None:
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
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
            except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
                raise UsageError(f"corrupt CIFAR-10 files in {r / base}: {type(exc).__name__}; "
                                 "replace them with a fresh copy") from None
            source = str(r / base)
            break
    else:
        how = ("Unpack cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) into DIR/cifar10/ "
               "and pass --data-root DIR.")
        tv = download("cifar10", tried, how,
                      lambda: tvd.CIFAR10(str(download_root()), train=(split == "train"), download=True))
        source = str(download_root() / "cifar-10-batches-py")
    images = torch.from_numpy(tv.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(tv.targets, dtype=torch.long)
    return ImageData(name="cifar10", split=split, channels=3, native_size=32, image_size=image_size or 32,
                     length=len(images), content_hash=content_hash(images, labels), source=source,
                     images=images, labels=labels, num_classes=10)
