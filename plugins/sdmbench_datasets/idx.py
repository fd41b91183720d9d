"""MNIST-family datasets in idx format, read by torchvision.

Accepted layouts under a root R: ``R/<name>/`` holding the idx files (as in
``shared/data/mnist/``), torchvision's ``R/<Folder>/raw/``, or R itself;
files plain or ``.gz``. Known system locations: Debian's
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from torchvision import datasets as tvd

from sdmbench.plugin_api.data import ImageData, content_hash, download, download_root, find_files, stage_raw, user_roots


@dataclass(frozen=True)
class IdxSpec:
    name: str
    tv_class: type
    folder: str  # torchvision's folder name
    prefix: Tuple[str, str]  # file prefixes (train, test)
    num_classes: int
    system_dirs: Tuple[str, ...] = ()
    tv_kwargs: Tuple[Tuple[str, str], ...] = ()
    transpose: bool = False  # EMNIST files hold images transposed
    home: str = ""

    def filenames(self, split: str):
        prefix = self.prefix[0 if split == "train" else 1]
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


SPECS = {
    "mnist": IdxSpec("mnist", tvd.MNIST, "MNIST", ("train", "t10k"), 10, home="http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": IdxSpec("fashion-mnist", tvd.FashionMNIST, "FashionMNIST", ("train", "t10k"), 10,
                             system_dirs=("/usr/share/datasets/fashion-mnist",),
                             home="apt-get install dataset-fashion-mnist"),
    "kmnist": IdxSpec("kmnist", tvd.KMNIST, "KMNIST", ("train", "t10k"), 10,
                      home="https://github.com/rois-codh/kmnist"),
    "emnist-letters": IdxSpec("emnist-letters", tvd.EMNIST, "EMNIST",
                              ("emnist-letters-train", "emnist-letters-test"), 27,
                              tv_kwargs=(("split", "letters"),), transpose=True,
                              home="https://www.nist.gov/itl/products-and-services/emnist-dataset"),
}


def load_idx(spec: IdxSpec, root: Optional[str], split: str, image_size: Optional[int]) -> ImageData:
    if split not in ("train", "test"):
        from sdmbench.errors import UsageError

        raise UsageError(f"dataset '{spec.name}' has splits train and test, not '{split}'")
    dirs = []
    for r in user_roots(root):
        dirs += [r / spec.name, r / spec.folder / "raw", r]
    dirs += [Path(d) for d in spec.system_dirs]
    dirs.append(download_root() / spec.folder / "raw")
    found = find_files(spec.filenames(split), dirs)
    kwargs = dict(spec.tv_kwargs)
    if found is not None:
        tv = _open(spec, stage_raw(found, spec.folder), split, kwargs, download=False)
        source = str(next(iter(found.values())).parent)
    else:
        how = (f"Put the files {', '.join(spec.filenames(split))} (.gz or not) in DIR/{spec.name}/ and pass "
               f"--data-root DIR (or set SDMBENCH_DATA); source: {spec.home}.")
        tv = download(spec.name, dirs, how, lambda: _open(spec, download_root(), split, kwargs, download=True))
        source = str(download_root() / spec.folder / "raw")
    images = tv.data
    if spec.transpose:
        images = images.transpose(-1, -2).contiguous()
    images = images.unsqueeze(1)
    labels = tv.targets.long()
    return ImageData(name=spec.name, split=split, channels=1, native_size=images.shape[-1],
                     image_size=image_size or 32, length=len(images), content_hash=content_hash(images, labels),
                     source=source, images=images, labels=labels, num_classes=spec.num_classes)


def _split_only(spec: IdxSpec, split: str) -> type:
    """torchvision's class, checking only the files of the split it reads (its own
    check wants both splits, and offline MNIST has only the test split)."""
    names = spec.filenames(split)

    def _check_exists(self) -> bool:
        return all((Path(self.raw_folder) / n).is_file() for n in names)

    return type(spec.tv_class.__name__, (spec.tv_class,), {"_check_exists": _check_exists})


def _open(spec: IdxSpec, root: Path, split: str, kwargs: dict, download: bool):
    from sdmbench.errors import UsageError

    cls = spec.tv_class if download else _split_only(spec, split)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(str(root), train=(split == "train"), download=download, **kwargs)
    except (ValueError, AssertionError, RuntimeError) as exc:
        if download:
            raise
        raise UsageError(f"corrupt idx files for '{spec.name}' under {root}: {exc}; "
                         "replace them with fresh copies") from None


def idx_factory(name: str):
    spec = SPECS[name]
    return lambda root=None, split="train", image_size=None: load_idx(spec, root, split, image_size)
