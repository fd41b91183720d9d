"""The scoring protocol as data.

A protocol has two parts, both stored in every record:

- the *scoring* fields, what FID is measured against: dataset, feature
  extractor (name and weights version), number of generated samples, reference
  split and its size, image size, and each metric's own settings (KID's
  subset size, the precision/recall neighbourhood). Records are ranked only against records with
  the same :func:`protocol_key`, which covers exactly these fields.
- the *generation* fields: sampler, its steps and options (a temperature, ...).
  They are part of the method being compared, not of the measuring stick: the
  leaderboard shows them beside each row (their cost shows in the energy), so
  SDM's DDIM and Spiking-Diffusion's unmasking sampler can be ranked together.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict

SCORING_FIELDS = ("dataset", "extractor", "extractor_version", "num_samples", "reference_split",
                  "reference_images", "image_size", "metric_settings")
GENERATION_FIELDS = ("sampler", "sample_steps", "sampler_options")
FIELDS = SCORING_FIELDS + GENERATION_FIELDS


#: an extractor version that starts so names weights trained on one machine (``sdmbench extractor train``):
#: its protocol is local, listed apart and never published on a shared board
LOCAL_VERSION_PREFIX = "local-"


def is_local_version(version: Any) -> bool:
    """Whether an extractor version names weights made on one machine rather than shipped pinned."""
    return str(version or "").startswith(LOCAL_VERSION_PREFIX)


def is_local(protocol: Dict[str, Any]) -> bool:
    """Whether a protocol's extractor weights were made on one machine (see :func:`is_local_version`)."""
    return is_local_version(protocol.get("extractor_version"))


def make_protocol(**values: Any) -> Dict[str, Any]:
    values.setdefault("metric_settings", {})
    missing = [f for f in FIELDS if f not in values]
    if missing:
        raise ValueError(f"protocol lacks {missing}")
    return {f: values[f] for f in FIELDS}


def protocol_key(protocol: Dict[str, Any]) -> str:
    """A short stable id of a protocol's scoring fields (what the leaderboard groups by)."""
    blob = json.dumps({f: protocol.get(f) for f in SCORING_FIELDS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def describe(protocol: Dict[str, Any]) -> str:
    version = str(protocol['extractor_version'])
    version = version[:len(LOCAL_VERSION_PREFIX) + 8] + " (local protocol)" if is_local(protocol) else version[:8]
    features = f"{protocol['extractor']}@{version}" if protocol['extractor'] else "no feature extractor"
    settings = "".join(f"; {name} " + ", ".join(f"{k} {v}" for k, v in values.items())
                       for name, values in sorted((protocol.get("metric_settings") or {}).items()))
    return (f"{features}, "
            f"{protocol['num_samples']} samples vs {protocol['reference_images']} {protocol['reference_split']} "
            f"images, {protocol['image_size']}px{settings}")


def describe_sampler(protocol: Dict[str, Any]) -> str:
    options = "".join(f", {k}={v}" for k, v in sorted((protocol.get("sampler_options") or {}).items()))
    return f"{protocol['sampler']} x{protocol['sample_steps']}{options}"
