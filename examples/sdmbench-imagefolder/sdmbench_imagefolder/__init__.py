"""``image-folder``: a folder of images (``ROOT/image-folder/<split>/<class>/*``)
as an sdmbench dataset, read with torchvision's ``ImageFolder``.

The dataset contract: ``factory(root, split, image_size) -> ImageData``, with
a one-line :class:`~sdmbench.errors.UsageError` when the files are missing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torchvision import datasets
from torchvision.transforms import v2

import sdmbench
from sdmbench.plugin_api.data import ImageData, content_hash, user_roots
from sdmbench.errors import UsageError

NAME = "image-folder"
MAX_SIDE = 64


def _folder(root: Optional[str], split: str) -> Path:
    roots = user_roots(root)
    for r in roots:
        if (r / NAME / split).is_dir():
            return r / NAME / split
    looked = ", ".join(str(r / NAME / split) for r in roots) or "nowhere (no --data-root or $SDMBENCH_DATA)"
    raise UsageError(f"dataset '{NAME}' split '{split}' not found; looked in {looked}. Put images in "
                     f"DIR/{NAME}/{split}/<class>/ and pass --data-root DIR")


def load_image_folder(root: Optional[str] = None, split: str = "train",
                      image_size: Optional[int] = None) -> ImageData:
    folder = _folder(root, split)
    try:
        found = datasets.ImageFolder(str(folder))
    except (FileNotFoundError, RuntimeError) as exc:
        raise UsageError(f"dataset '{NAME}': {folder} holds no images in class folders ({exc})") from None
    pictures = [v2.functional.pil_to_tensor(found.loader(path)) for path, _ in found.samples]
    side = min(MAX_SIDE, min(min(p.shape[-2:]) for p in pictures))
    channels = 1 if all(p.shape[0] == 1 or _gray(p) for p in pictures) else 3
    images = torch.stack([_square(p, side, channels) for p in pictures])
    labels = torch.tensor(found.targets, dtype=torch.long)
    return ImageData(name=NAME, split=split, channels=channels, native_size=side, image_size=image_size or side,
                     length=len(images), content_hash=content_hash(images, labels), source=str(folder),
                     images=images, labels=labels, num_classes=len(found.classes))


def _gray(picture: torch.Tensor) -> bool:
    return bool((picture == picture[:1]).all())


def _square(picture: torch.Tensor, side: int, channels: int) -> torch.Tensor:
    """uint8 ``[c, h, w]`` -> ``[channels, side, side]``: centre crop, antialiased resize."""
    picture = picture[:3]
    picture = picture[:1] if channels == 1 else picture.expand(3, *picture.shape[1:])
    short = min(picture.shape[-2:])
    picture = v2.functional.center_crop(picture, [short, short])
    return v2.functional.resize(picture, [side, side], antialias=True)


@sdmbench.hookimpl
def sdmbench_register_datasets(registry):
    registry.add(NAME, load_image_folder,
                 description="images in DATA/image-folder/<split>/<class>/ (torchvision ImageFolder)")
