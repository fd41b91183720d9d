"""LSUN bedroom through torchvision's LSUN reader (an lmdb database).

Layouts under a root R: ``R/lsun-bedroom/bedroom_train_lmdb/`` or
``R/bedroom_train_lmdb/`` (torchvision's), ``bedroom_val_lmdb`` for the test
split. Images are centre-cropped to a square and resized to 256x256. LSUN has
no download through torchvision: get it from the LSUN project.
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import Optional

import torch
from torchvision.transforms import v2

from sdmbench.plugin_api.data import ImageData, cache_dir, not_found, user_roots
from sdmbench.errors import UsageError

NATIVE = 256


class _Square:
    def __call__(self, img):
        side = min(img.size)
        return v2.functional.center_crop(img, [side, side])


def load_lsun_bedroom(root: Optional[str] = None, split: str = "train",
                      image_size: Optional[int] = None) -> ImageData:
    if split not in ("train", "test"):
        raise UsageError(f"dataset 'lsun-bedroom' has splits train and test, not '{split}'")
    folder = "bedroom_train_lmdb" if split == "train" else "bedroom_val_lmdb"
    dirs = []
    for r in user_roots(root):
        dirs += [r / "lsun-bedroom" / folder, r / folder]
    found = next((d for d in dirs if (d / "data.mdb").is_file()), None)
    if found is None:
        raise not_found("lsun-bedroom", dirs, "Download bedroom_train_lmdb.zip from the LSUN project "
                        "(https://github.com/fyu/lsun), unzip it into DIR/lsun-bedroom/ and pass --data-root DIR.")
    try:
        from torchvision.datasets.lsun import LSUNClass
    except ImportError:  # pragma: no cover
        raise UsageError("reading LSUN needs the lmdb package: pip install lmdb") from None
    transform = v2.Compose([_Square(), v2.PILToTensor(), v2.Resize([NATIVE, NATIVE], antialias=True)])
    keys_dir = cache_dir() / "lsun-keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.chdir(keys_dir):  # torchvision writes its key cache to the working directory
            ds = LSUNClass(str(found), transform=transform)
    except Exception as exc:
        raise UsageError(f"cannot read the LSUN lmdb at {found}: {type(exc).__name__}: {exc}") from None
    digest = hashlib.sha256(b"".join(ds.keys)).hexdigest()

    def item(i: int) -> torch.Tensor:
        return ds[i][0]

    return ImageData(name="lsun-bedroom", split=split, channels=3, native_size=NATIVE,
                     image_size=image_size or NATIVE, length=len(ds), content_hash=digest, source=str(found),
                     item=item)
