"""Feature extractors: what FID looks through.

Contract: a registered factory ``factory(data: ImageData, *, device, options)``
returns a :class:`FeatureExtractor`. ``extractor(images)`` maps uint8
``[N, C, H, W]`` images of any size to float64 features ``[N, D]``;
``version`` identifies the weights (a content hash), so records made through
different weights are never ranked together.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from sdmbench.plugin_api.data import content_hash


class FeatureExtractor:
    name: str = "?"
    version: str = "?"
    dim: int = 0

    def features(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 500,
                 on_batch: Optional[Callable[[int], None]] = None) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"feature extractors take uint8 [N, C, H, W] images, got {images.dtype} "
                             f"{tuple(images.shape)}")
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            out.append(self.features(chunk).double().cpu())
            if on_batch is not None:
                on_batch(len(chunk))
        return torch.cat(out)


class CachedExtractor(FeatureExtractor):
    """``extractor`` with its features remembered by the content of the images it saw: scoring many runs
    against one reference extracts the reference's features once (the same tensor bytes, the same
    features, since extraction is deterministic in eval mode)."""

    def __init__(self, extractor: FeatureExtractor):
        self.inner, self.cache = extractor, {}
        self.name, self.version, self.dim = extractor.name, extractor.version, extractor.dim

    def __getattr__(self, attr):  # the wrapped extractor's own members (model, size, ...)
        return getattr(self.inner, attr)

    def remembers(self, digest: str) -> bool:
        """Whether the features of the images whose :func:`content_hash` is ``digest`` are here (a call
        returns them without extracting)."""
        return digest in self.cache

    def keep(self, digest: str, features: torch.Tensor) -> None:
        """Remember ``features`` as those of the images whose :func:`content_hash` is ``digest`` (read from
        elsewhere: the disk cache)."""
        self.cache[digest] = features

    def __call__(self, images: torch.Tensor, batch_size: int = 500,
                 on_batch: Optional[Callable[[int], None]] = None) -> torch.Tensor:
        key = content_hash(images)
        if key not in self.cache:
            self.cache[key] = self.inner(images, batch_size, on_batch)
        elif on_batch is not None:
            on_batch(len(images))
        return self.cache[key]
