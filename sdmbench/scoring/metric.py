"""Metrics: ``compute(ctx) -> {name: value}``, with ``higher_is_better``.

A metric may also ``observe`` the backbone during the real sampling pass
(the energy counter does); ``observe`` returns a context manager that the
harness enters around the first sampling batch; under torchrun each rank
observes its own first batch and rank 0 merges the others' ``observations()``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ContextManager, Dict, List, Optional

import torch
from torch import nn

from sdmbench.data import ImageData
from sdmbench.scoring.extractor import FeatureExtractor


@dataclass
class ScoringContext:
    """What a metric sees: the generated samples (uint8 ``[N, C, H, W]``), the
    dataset split they are compared with, the protocol, the feature extractor,
    and what the sampling pass observed."""

    samples: torch.Tensor
    data: ImageData
    protocol: Dict[str, Any]
    extractor: Optional[FeatureExtractor] = None
    sampling: Dict[str, Any] = field(default_factory=dict)  # steps, images observed
    progress: Any = None


class Metric:
    name: str = "?"
    higher_is_better: Dict[str, bool] = {}

    def observe(self, backbone: nn.Module) -> ContextManager:
        return contextlib.nullcontext()

    def observations(self) -> Any:
        """What ``observe`` counted, picklable (sent from every rank under torchrun)."""
        return None

    def merge(self, others: List[Any]) -> None:
        """Add other ranks' :meth:`observations` to this metric's own."""

    def compute(self, ctx: ScoringContext) -> Dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError
