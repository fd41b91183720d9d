"""A record's energy under any energy model, including one installed after
the record was made.

A record keeps every registered model's energy and its per-layer counts per
image (:class:`~sdmbench.energy.details.EnergyDetails`), so a model it
does not hold is priced from the counts. Records of the first counter
(before energy models) hold MACs and accumulates of one observed batch only:
a model that prices anything else (memory, elementwise work) cannot price
them, and gets None rather than a figure that leaves its main term out.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from sdmbench.energy.counts import ACCESSES, Counts, Layer, per_image
from sdmbench.energy.details import VALUE, EnergyDetails

#: what the first counter did not count
UNCOUNTED_BEFORE = Counts(elementwise=1, adds=1, **{access: 1 for access in ACCESSES})


def prices_more_than_operations(model) -> bool:
    """Whether ``model`` puts a price on elementwise work, additions or memory."""
    probe = Layer("probe", weights=1, state=1, counts=UNCOUNTED_BEFORE)
    return model.price({"probe": probe}).total_j > 0


def layers_of(record: Dict[str, Any], model) -> Optional[Dict[str, Layer]]:
    """The record's per-image counts per layer that ``model`` can price, or None (no energy counted, or
    counted by the first counter and ``model`` prices more than its operations)."""
    energy = EnergyDetails.of(record)
    if not energy.layers:
        return None
    layers = {n: Layer.from_dict(v) for n, v in energy.layers.items()}
    if energy.per_image:  # this counter: per-layer counts per image
        return layers
    if prices_more_than_operations(model):  # the first counter: operations only, over the observed images
        return None
    return per_image(layers, energy.observed_images)


def record_energy(record: Dict[str, Any], name: str, model) -> Optional[float]:
    """Millijoules per image of ``record`` under the energy model ``name``, or None when the record
    cannot say (:func:`layers_of`)."""
    energy = EnergyDetails.of(record)
    if name in energy.models:
        return energy.stored(name)
    layers = layers_of(record, model)
    return None if layers is None else model.price(layers).total_j * 1e3


def layer_energy(record: Dict[str, Any], model) -> Optional[Dict[str, float]]:
    """Millijoules per image of each layer of ``record`` under ``model`` (their sum is the record's
    energy under it), or None when the record cannot say (:func:`layers_of`)."""
    layers = layers_of(record, model)
    return None if layers is None else {n: model.price({n: layer}).total_j * 1e3 for n, layer in layers.items()}


def with_energy_of(record: Dict[str, Any], name: str, model) -> Dict[str, Any]:
    """``record`` with its energy per image (``metrics[VALUE]``) under ``name`` (a copy; the record is left
    as it is)."""
    metrics = dict(record.get("metrics") or {}, **{VALUE: record_energy(record, name, model)})
    return dict(record, metrics=metrics)
