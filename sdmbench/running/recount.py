"""Counting a finished run's sampling pass again (``sdmbench score
--recount-energy``): its energy under the current counter and every
installed energy model.

The metrics that observe the sampling pass (``energy``) describe the
generation, so they are measured by generating again: the pipeline is
rebuilt from the run's saved weights and the first ``batches`` batches
(every batch when None) are sampled with those metrics watching. Batch
``i`` is seeded as in the run, so the pass reproduces the run's kept
samples; whether it did is recorded (``reproduced_samples``).

The new values replace the record's under ``metrics`` and ``details``; the
values and details they replace are kept, with the commit that made them,
in ``record["superseded"]``, so nothing recorded is lost.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

import torch

from sdmbench.errors import UsageError
from sdmbench.running.records import stamp, write_record
from sdmbench.running.rescore import Target, load_pipeline, observes_sampling
from sdmbench.running.sampling import observed_sampling, sample
from sdmbench.scoring.metric import Scores, ScoringContext


def observing_metrics(target: Target, plugins) -> Dict[str, Any]:
    """The run's metrics that observe its sampling pass (a one-line error when it has none or no weights)."""
    found = {}
    for name in target.config.metrics:
        if name in plugins.metric:
            metric = plugins.metric.get(name)()
            if observes_sampling(metric):
                found[name] = metric
    if not found:
        raise UsageError(f"{target.folder}: the run scored no metric that watches sampling (such as energy); "
                         "nothing to recount")
    if not target.stages:
        raise UsageError(f"{target.folder}: the run keeps no saved weights (stage-*.pt) to sample again from")
    return found


def recount(target: Target, plugins, device, batches: Optional[int] = None, progress=None,
            log=print) -> Dict[str, Any]:
    """Sample ``batches`` batches of ``target`` again with its observing metrics watching; write their
    new values into its record (the replaced ones into ``superseded``) and return the new values."""
    metrics = observing_metrics(target, plugins)
    config = target.config
    if batches is not None:
        config = dataclasses.replace(config, num_samples=min(config.num_samples, batches * config.sample_batch_size))
    pipeline = load_pipeline(target, config, plugins, device, progress, log)
    samples, observed = sample(pipeline, config, list(metrics.values()), progress, label="sample (recount)")
    reproduced = target.samples is not None and len(target.samples) >= len(samples) \
        and torch.equal(samples, target.samples[:len(samples)])
    ctx = ScoringContext(samples=samples, data=None, protocol=target.record["protocol"],
                         sampling=observed_sampling(observed, config.sample_steps, plugins))
    scores = {name: Scores.of(metric.compute(ctx)) for name, metric in metrics.items()}
    record, made = target.record, stamp()
    old_metrics = record.get("metrics") or {}
    old_details = record.get("details") or {}
    superseded = {"replaced": made["created"], "git_commit": record.get("git_commit"),
                  "metrics": {k: old_metrics.get(k) for s in scores.values() for k in s.values if k in old_metrics},
                  "details": {name: old_details[name] for name in scores if name in old_details}}
    details = dict(old_details)
    for name, s in scores.items():
        details[name] = dict(s.details, recounted={**made, "images": len(samples), "reproduced_samples": reproduced})
    target.record = write_record(target.folder, dict(record, metrics={**old_metrics, **Scores.flat(scores)},
                                                     details=details,
                                                     superseded=record.get("superseded", []) + [superseded]))
    return {"values": Scores.flat(scores), "images": len(samples), "reproduced_samples": reproduced}
