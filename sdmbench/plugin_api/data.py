"""Image datasets as the harness sees them, and where their files are found.

:class:`ImageData` holds one split of a dataset at its native size and hands
out uint8 batches resized to any size (``get``); ``to_unit`` maps uint8 to the
``[-1, 1]`` floats the diffusion processes train on.

Files are looked for, in order: ``--data-root`` (else ``$SDMBENCH_DATA``),
each dataset's known system locations, then sdmbench's own data cache, where
torchvision's download puts them when a network exists
(``$SDMBENCH_OFFLINE=1`` skips the download attempt).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence

import torch

from sdmbench.errors import UsageError


def cache_dir() -> Path:
    """``$SDMBENCH_CACHE``, else ``$XDG_CACHE_HOME/sdmbench``, else ``~/.cache/sdmbench``."""
    if os.environ.get("SDMBENCH_CACHE"):
        return Path(os.environ["SDMBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sdmbench"


def user_roots(data_root: Optional[str]) -> List[Path]:
    root = data_root or os.environ.get("SDMBENCH_DATA")
    return [Path(root)] if root else []


def download_root() -> Path:
    return cache_dir() / "data"


def offline() -> bool:
    return os.environ.get("SDMBENCH_OFFLINE", "") not in ("", "0")


def not_found(name: str, tried: Sequence[Path], how: str, reason: str = "") -> UsageError:
    places = ", ".join(str(p) for p in tried) or "nowhere"
    why = f" ({reason})" if reason else ""
    return UsageError(f"dataset '{name}' not found{why}; looked in: {places}. {how}")


def download(name: str, tried: Sequence[Path], how: str, fetch: Callable[[], object]):
    """``fetch()`` (torchvision's download), or the not-found error when offline or when it fails."""
    if offline():
        raise not_found(name, tried, how, "SDMBENCH_OFFLINE is set, no download tried")
    try:
        return fetch()
    except Exception as exc:
        raise not_found(name, tried, how, f"download failed: {type(exc).__name__}") from None


def find_files(filenames: Sequence[str], dirs: Iterable[Path]) -> Optional[dict]:
    """The first directory holding every file (plain or ``.gz``): name -> path."""
    for d in dirs:
        found = {}
        for f in filenames:
            for candidate in (d / f, d / (f + ".gz")):
                if candidate.is_file():
                    found[f] = candidate
                    break
        if len(found) == len(filenames):
            return found
    return None


def stage_raw(found: dict, folder: str) -> Path:
    """Lay found idx files out as torchvision expects (``ROOT/<folder>/raw/<file>``,
    decompressed) in the cache, and return ROOT."""
    key = hashlib.sha256("|".join(sorted(str(p.resolve()) for p in found.values())).encode()).hexdigest()[:16]
    root = cache_dir() / "staged" / key
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in found.items():
        dst = raw / name
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")  # one per process: runs may stage at once
        if src.suffix == ".gz":
            try:
                with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (OSError, EOFError) as exc:
                tmp.unlink(missing_ok=True)
                raise UsageError(f"corrupt file {src}: {exc}; replace it with a fresh copy") from None
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return root


def content_hash(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> ``[N, C, size, size]`` (antialiased bilinear), the same bytes on every CPU.

    Interpolated in float64 and rounded: torch's uint8 kernel has AVX2/AVX-512 paths that round
    otherwise than its scalar one (1.0 M of 10.2 M pixels differ for Fashion-MNIST's train split at
    28 -> 32 px), which moved FID by 0.16% between CPU kinds; the float path gives one result under
    every ``ATEN_CPU_CAPABILITY`` (float32 still differs when downsampling)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    from torchvision.transforms.v2 import functional as F

    out = F.resize(images.double(), [size, size], antialias=True)
    return out.round_().clamp_(0, 255).to(torch.uint8) if images.dtype == torch.uint8 else out.to(images.dtype)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (clamped, rounded in float32, whatever the input's precision)."""
    return x.float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


@dataclass
class ImageData:
    """One split of a dataset.

    Either ``images`` (uint8 ``[N, C, H, W]`` in memory) or ``item`` (index ->
    uint8 ``[C, H, W]``, for datasets too large to hold) is set.
    """

    name: str
    split: str
    channels: int
    native_size: int
    image_size: int
    length: int
    content_hash: str
    source: str
    images: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None
    num_classes: Optional[int] = None
    item: Optional[Callable[[int], torch.Tensor]] = None

    def __len__(self) -> int:
        return self.length

    def get(self, indices: torch.Tensor | Sequence[int], size: Optional[int] = None) -> torch.Tensor:
        """uint8 ``[n, C, size, size]`` (default: the run's image size)."""
        size = size or self.image_size
        if self.images is not None:
            batch = self.images[torch.as_tensor(indices, dtype=torch.long)]
        else:
            batch = torch.stack([self.item(int(i)) for i in indices])
        return resize(batch, size)

    def random_batch(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images drawn uniformly with replacement, as floats in [-1, 1] at the run's size."""
        return to_unit(self.get(torch.randint(0, self.length, (n,), generator=generator)))

    def first(self, n: int, size: Optional[int] = None) -> torch.Tensor:
        return self.get(torch.arange(min(n, self.length)), size)
