"""Scoring one set of samples under one protocol: the step a run ends with
and ``sdmbench score`` repeats.

:func:`protocol_for` builds the protocol (dataset, extractor and weights
hash, N generated and reference, image size, every metric's own settings,
and the sampler that made the samples); :func:`evaluate` runs each metric
on one shared :class:`~sdmbench.scoring.metric.ScoringContext`, so features
are extracted once however many metrics read them.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

from sdmbench.scoring.metric import Metric, Scores, ScoringContext
from sdmbench.scoring.protocol import make_protocol


def metric_settings(metrics: Dict[str, Metric], num_samples: int, reference_images: int) -> Dict[str, Any]:
    """Each metric's value-changing settings at this N (metrics without any are left out)."""
    out = {}
    for name, metric in metrics.items():
        settings = metric.settings(num_samples, reference_images) if hasattr(metric, "settings") else {}
        if settings:
            out[name] = settings
    return out


def protocol_for(num_samples: int, data, config, extractor, metrics: Dict[str, Metric],
                 sampler_options: Dict[str, Any]) -> Dict[str, Any]:
    """The protocol of scoring ``num_samples`` samples made under ``config`` against ``data``."""
    reference = min(config.reference_images, len(data))
    return make_protocol(dataset=data.name, extractor=getattr(extractor, "name", None),
                         extractor_version=getattr(extractor, "version", None),
                         num_samples=num_samples, reference_split=data.split, reference_images=reference,
                         image_size=data.image_size, sampler=config.sampler,
                         sample_steps=config.sample_steps, sampler_options=sampler_options,
                         metric_settings=metric_settings(metrics, num_samples, reference))


def evaluate(protocol: Dict[str, Any], samples: torch.Tensor, data, extractor, metrics: Dict[str, Metric], *,
             sampling: Dict[str, Any], progress=None) -> Tuple[ScoringContext, Dict[str, Scores]]:
    """Every metric's scores of ``samples`` (uint8 ``[N, C, H, W]``) under ``protocol`` (from
    :func:`protocol_for`), and the context they were computed on (its features extracted once)."""
    ctx = ScoringContext(samples=samples, data=data, protocol=protocol, extractor=extractor,
                         sampling=sampling, progress=progress)
    return ctx, {name: Scores.of(metric.compute(ctx)) for name, metric in metrics.items()}
