"""Metrics: ``compute(ctx) -> Scores``, with ``higher_is_better`` and the ``columns`` they show.

Metrics that compare features (FID, KID, precision/recall) read them from
:meth:`ScoringContext.features`, computed once per scoring pass and shared.
A metric's own settings that change its value (KID's subset size, the
precision/recall neighbourhood) come from :meth:`Metric.settings` and are
recorded in the protocol, so records scored differently are never ranked
together.

A metric returns its scalar values apart from its details: the values are
recorded under ``record["metrics"]`` (what leaderboards rank and plot), the
details under ``record["details"][<metric name>]`` (per-layer counts, firing
rates, ...), so the harness never needs to know a metric's own keys; which
values are shown, how and in what order, the metric declares in ``columns``
(:mod:`sdmbench.scoring.columns`). A metric may also ``observe`` the generating network during the real sampling
pass (the energy counter does): ``observe`` returns a context manager that
the harness enters around the first sampling batch; under torchrun each rank
observes its own first batch and rank 0 merges the others' ``observations()``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ContextManager, Dict, List, Optional, Tuple

import torch
from torch import nn

from sdmbench.errors import UsageError
from sdmbench.plugin_api.data import ImageData
from sdmbench.scoring.columns import Column
from sdmbench.scoring.extractor import FeatureExtractor
from sdmbench.scoring.feature_cache import reference_features


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
    _features: Optional[Tuple[torch.Tensor, torch.Tensor]] = field(default=None, init=False, repr=False)

    def check_samples(self) -> None:
        """The contract of what feature metrics compare: ``samples`` are uint8 ``[N, C, S, S]``, with N >= 1,
        the dataset's C channels and the protocol's image size S (a one-line error otherwise)."""
        s, size = self.samples, self.protocol.get("image_size", self.data.image_size)
        if s.dtype != torch.uint8 or s.dim() != 4 or not len(s) or tuple(s.shape[1:]) != (self.data.channels, size, size):
            raise UsageError(f"the samples are {str(s.dtype).replace('torch.', '')} {list(s.shape)}, but "
                             f"{self.data.name} is scored as uint8 [N, {self.data.channels}, {size}, {size}] images "
                             "(N >= 1); they were not made for this dataset and protocol")

    def features(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(generated, reference)`` features, float64 ``[N, D]``: the samples' and the first
        ``protocol['reference_images']`` images of the reference split, through the extractor
        (computed on the first call, shared by every metric after it; the reference's from the disk cache
        of :mod:`sdmbench.scoring.feature_cache` when a file there proves itself)."""
        if self._features is None:
            if self.extractor is None:
                raise RuntimeError("this metric reads features, but the protocol has no feature extractor")
            self.check_samples()
            p = self.protocol
            reference = self.data.first(p["reference_images"], size=p["image_size"])
            task = self.progress.add_task(f"{self.extractor.name} features",
                                          total=len(reference) + len(self.samples)) if self.progress else None
            advance = (lambda n: self.progress.update(task, advance=n)) if task is not None else None
            real = reference_features(self.extractor, reference, on_batch=advance)
            self._features = (self.extractor(self.samples, on_batch=advance), real)
        return self._features


@dataclass
class Scores:
    """A metric's result: scalar ``values`` (name -> number or None) and
    JSON-serialisable ``details``."""

    values: Dict[str, Optional[float]] = field(default_factory=dict)
    details: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, result: Any) -> "Scores":
        """``result`` as Scores; a plain dict splits into its numbers (values) and the rest (details)."""
        if isinstance(result, Scores):
            return result
        if not isinstance(result, dict):
            raise TypeError(f"a metric's compute() must return Scores or a dict, got {type(result).__name__}")
        scalar = lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))  # noqa: E731
        return cls({k: v for k, v in result.items() if scalar(v)},
                   {k: v for k, v in result.items() if not scalar(v)})

    @staticmethod
    def flat(scores: Dict[str, "Scores"]) -> Dict[str, Optional[float]]:
        """Every metric's values in one mapping (what a record keeps under ``metrics``)."""
        values: Dict[str, Optional[float]] = {}
        for result in scores.values():
            values.update(result.values)
        return values


class Metric:
    name: str = "?"
    higher_is_better: Dict[str, bool] = {}
    #: the values the board, the site, a run's summary and a sweep show, in order (:class:`Column`)
    columns: Tuple[Column, ...] = ()
    #: whether ``compute`` reads ``ctx.extractor`` (the protocol's feature extractor is built only when a
    #: chosen metric needs it)
    needs_features: bool = True

    def settings(self, num_samples: int, reference_images: int) -> Dict[str, Any]:
        """The settings that change this metric's value at this sample size (recorded in the protocol)."""
        return {}

    def observe(self, backbone: nn.Module) -> ContextManager:
        return contextlib.nullcontext()

    def observations(self) -> Any:
        """What ``observe`` counted, picklable (sent from every rank under torchrun)."""
        return None

    def merge(self, others: List[Any]) -> None:
        """Add other ranks' :meth:`observations` to this metric's own."""

    def compute(self, ctx: ScoringContext) -> Scores:  # pragma: no cover - interface
        raise NotImplementedError
