"""The scoring protocol as data.

A protocol is the feature extractor (name and weights version), the number of
generated samples, the reference split and its size, the image size, and the
sampler with its steps. Records are ranked only against records with the same
:func:`protocol_key`.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict

FIELDS = ("dataset", "extractor", "extractor_version", "num_samples", "reference_split", "reference_images",
          "image_size", "sampler", "sample_steps", "sampler_options")


def make_protocol(**values: Any) -> Dict[str, Any]:
    missing = [f for f in FIELDS if f not in values]
    if missing:
        raise ValueError(f"protocol lacks {missing}")
    return {f: values[f] for f in FIELDS}


def protocol_key(protocol: Dict[str, Any]) -> str:
    """A short stable id of a protocol (what the leaderboard groups by)."""
    blob = json.dumps({f: protocol.get(f) for f in FIELDS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def describe(protocol: Dict[str, Any]) -> str:
    return (f"{protocol['extractor']}@{str(protocol['extractor_version'])[:8]}, "
            f"{protocol['num_samples']} samples vs {protocol['reference_images']} {protocol['reference_split']} "
            f"images, {protocol['image_size']}px, {protocol['sampler']} x{protocol['sample_steps']}"
            + "".join(f", {k}={v}" for k, v in sorted((protocol.get('sampler_options') or {}).items())))
