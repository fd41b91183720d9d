"""The reference's features, kept on disk between runs.

Every run of one dataset is scored against the same reference, the first
``reference_images`` images of one split, through the same extractor, so
every run computes the same reference features; in float64 they are most of
a small run's scoring time (the ResNet classifier reads about 250 images a
second on two cores: 40 s for the quick preset's 10,000). They are kept in
``<cache>/features/<key>.safetensors`` with

    key = sha256(extractor name, extractor version, content_hash(images))

(``content_hash``: of the images' shape and bytes, the key of the in-memory
:class:`~sdmbench.scoring.extractor.CachedExtractor` too, computed once here)

and a file is used only if it proves itself: the first :data:`PROBE` images
are extracted afresh and must give its first rows (within ``1e-9`` relative,
the spread of float64 sums between batch sizes and CPU kinds is ~1e-15). A
change of the extractor's code, of torch, or of its weights without a new
version moves those rows and the file is computed again, so a cached score
is the score the run computes without the cache. A damaged file is computed
again; a cache that cannot be written is skipped. ``SDMBENCH_FEATURE_CACHE=0``
turns it off. Files are written atomically (two runs at once may race; the
last complete file wins).

Contract: ``reference_features(extractor, images, on_batch)`` returns exactly
what ``extractor(images, on_batch=on_batch)`` returns, up to that tolerance,
and calls ``on_batch`` for every image either way.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Optional

import torch

from sdmbench.plugin_api.data import content_hash

#: the images extracted afresh to check a cached file (one small batch)
PROBE = 16
#: how far a fresh probe row may be from the cached one (relative to the features' scale)
TOLERANCE = 1e-9


def enabled() -> bool:
    return os.environ.get("SDMBENCH_FEATURE_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def cache_path(extractor, digest: str) -> Path:
    """Where the features through ``extractor`` of the images whose ``content_hash`` is ``digest`` are kept."""
    from sdmbench.plugin_api.data import cache_dir

    key = hashlib.sha256("\0".join((extractor.name, str(extractor.version), digest)).encode()).hexdigest()
    return cache_dir() / "features" / f"{extractor.name}-{key[:32]}.safetensors"


def _read(path: Path) -> Optional[torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))["features"]
    except Exception:  # missing, damaged or foreign: computed again
        return None


def _write(path: Path, features: torch.Tensor) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"features": features.contiguous()}, str(tmp))
        os.replace(tmp, path)
    except OSError:  # a read-only or full cache costs time, never a run
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def proves_itself(cached: torch.Tensor, fresh: torch.Tensor, count: int) -> bool:
    """Whether ``cached`` holds ``count`` rows whose first ones are ``fresh`` (within :data:`TOLERANCE`)."""
    if cached.dim() != 2 or len(cached) != count or cached.shape[1:] != fresh.shape[1:]:
        return False
    head = cached[:len(fresh)].to(fresh.dtype)
    scale = fresh.abs().max().clamp_min(1.0)
    return bool(torch.all((head - fresh).abs() <= TOLERANCE * scale))


def reference_features(extractor, images: torch.Tensor,
                       on_batch: Optional[Callable[[int], None]] = None) -> torch.Tensor:
    """``extractor(images)``, read from the disk cache when a file there proves itself."""
    if not enabled() or len(images) <= PROBE:
        return extractor(images, on_batch=on_batch)
    digest = content_hash(images)
    remembers = getattr(extractor, "remembers", None)  # an in-memory cache (CachedExtractor) answers first
    if remembers is not None and remembers(digest):
        return extractor(images, on_batch=on_batch)
    path = cache_path(extractor, digest)
    cached = _read(path) if path.exists() else None
    if cached is not None:
        probe = extractor(images[:PROBE])
        if proves_itself(cached, probe, len(images)):
            if on_batch is not None:
                on_batch(len(images))
            if hasattr(extractor, "keep"):
                extractor.keep(digest, cached)
            return cached
    features = extractor(images, on_batch=on_batch)
    _write(path, features)
    return features
