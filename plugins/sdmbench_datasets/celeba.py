"""CelebA (aligned faces) at 64x64 through torchvision.

Layout under a root R: ``R/celeba/`` holding ``img_align_celeba/`` and the
annotation text files (torchvision's layout, which is also
``R/<dataset-name>/``). Images are centre-cropped to 140x140 and resized to
64x64, the usual DDPM CelebA-64 pipeline. Files are checked by reading, not
by MD5.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import torch
from torchvision import datasets as tvd
from torchvision.transforms import v2

from sdmbench.plugin_api.data import ImageData, download, download_root, user_roots
from sdmbench.errors import UsageError

NATIVE = 64
TEXT_FILES = ["list_eval_partition.txt", "identity_CelebA.txt", "list_bbox_celeba.txt",
              "list_landmarks_align_celeba.txt", "list_attr_celeba.txt"]


class _CelebA(tvd.CelebA):
    def _check_integrity(self) -> bool:
        base = Path(self.root) / self.base_folder
        return (base / "img_align_celeba").is_dir() and all((base / f).is_file() for f in TEXT_FILES)


def _transform():
    return v2.Compose([v2.PILToTensor(), v2.CenterCrop(140), v2.Resize([NATIVE, NATIVE], antialias=True)])


def load_celeba(root: Optional[str] = None, split: str = "train", image_size: Optional[int] = None) -> ImageData:
    if split not in ("train", "valid", "test", "all"):
        raise UsageError(f"dataset 'celeba' has splits train, valid, test and all, not '{split}'")
    roots = user_roots(root) + [download_root()]
    tried = [r / "celeba" for r in roots]
    for r in roots:
        if (r / "celeba" / "img_align_celeba").is_dir():
            ds = _CelebA(str(r), split=split, target_type=[], transform=_transform())
            break
    else:
        how = ("Put img_align_celeba/ and the five annotation .txt files in DIR/celeba/ and pass --data-root DIR "
               "(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html).")
        ds = download("celeba", tried, how, lambda: tvd.CelebA(str(download_root()), split=split, target_type=[],
                                                                transform=_transform(), download=True))
    if len(ds) == 0:
        raise UsageError(f"celeba split '{split}' is empty under {ds.root}; check list_eval_partition.txt")
    digest = hashlib.sha256("\n".join(ds.filename).encode()).hexdigest()

    def item(i: int) -> torch.Tensor:
        try:
            return ds[i][0]
        except OSError as exc:
            raise UsageError(f"corrupt CelebA image {ds.filename[i]}: {exc}") from None

    return ImageData(name="celeba", split=split, channels=3, native_size=NATIVE, image_size=image_size or NATIVE,
                     length=len(ds), content_hash=digest, source=str(Path(ds.root) / ds.base_folder), item=item)
