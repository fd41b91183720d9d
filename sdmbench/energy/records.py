"""A record's energy under any energy model, including one installed after
the record was made.

A record keeps every registered model's energy (``details.energy.models``)
and its per-layer counts per image (``details.energy.layers``), so a model it
does not hold is priced from the counts. Records of the first counter
(before energy models) hold MACs and accumulates of one observed batch only:
a model that prices anything else (memory, elementwise work) cannot price
them, and gets None rather than a figure that leaves its main term out.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from sdmbench.energy.counts import ACCESSES, Counts, Layer, per_image

#: what the first counter did not count
UNCOUNTED_BEFORE = Counts(elementwise=1, adds=1, **{access: 1 for access in ACCESSES})


def prices_more_than_operations(model) -> bool:
    """Whether ``model`` puts a price on elementwise work, additions or memory."""
    probe = Layer("probe", weights=1, state=1, counts=UNCOUNTED_BEFORE)
    return model.price({"probe": probe}).total_j > 0


def record_energy(record: Dict[str, Any], name: str, model) -> Optional[float]:
    """Millijoules per image of ``record`` under the energy model ``name``, or None when the record
    cannot say (no energy counted, or counted by the first counter and ``model`` prices more)."""
    energy = ((record.get("details") or {}).get("energy")) or {}
    stored = (energy.get("models") or {}).get(name)
    if stored is not None:
        return stored.get("energy_per_image_mj")
    layers = energy.get("layers") or {}
    if not layers:
        return None
    if "models" in energy:  # this counter: per-layer counts per image
        parsed = {n: Layer.from_dict(v) for n, v in layers.items()}
    else:  # the first counter: totals over the observed images, operations only
        if prices_more_than_operations(model):
            return None
        parsed = per_image({n: Layer.from_dict(v) for n, v in layers.items()}, energy.get("observed_images") or 1)
    return model.price(parsed).total_j * 1e3


def with_energy_of(record: Dict[str, Any], name: str, model) -> Dict[str, Any]:
    """``record`` with its ``energy_per_image_mj`` under ``name`` (a copy; the record is left as it is)."""
    metrics = dict(record.get("metrics") or {}, energy_per_image_mj=record_energy(record, name, model))
    return dict(record, metrics=metrics)
