"""The energy record, as a contract between the metric that counts energy and the core that reads it.

A metric that counts energy (the built-in ``energy`` metric, or any other)
writes, through :func:`write`::

    record["metrics"][VALUE]      mJ per generated image under its default energy model
    record["details"][NAME] = {
        "counting":        how spike maps were told apart (sdmbench.energy.counter.COUNTING)
        "energy_model":    the default energy model's name
        "models":          {model name: {"energy_per_image_mj": mJ, ...}}   every registered model
        "layers":          {layer: Layer.as_dict(images)}                  per-image counts per layer
        "firing_rates":    {spiking layer: mean firing rate}
        "observed_images": images the counter observed
        ...                the metric's own further details (read by nobody in the core)
    }

The core reads these only through :class:`EnergyDetails` (:func:`EnergyDetails.of`):
repricing a record under another energy model, verifying it, the site's
per-layer charts. Records of the first counter (schema 1, upgraded on
loading by :func:`sdmbench.running.records.upgrade`) hold ``layers`` over the
observed images and no ``models``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

#: the metric whose details hold the energy record, and the value that is its energy per image
NAME = "energy"
VALUE = "energy_per_image_mj"


def write(*, counting: int, energy_model: Optional[str], models: Dict[str, Dict[str, Any]],
          layers: Dict[str, Dict[str, Any]], firing_rates: Dict[str, Optional[float]], observed_images: int,
          **more: Any) -> Dict[str, Any]:
    """``details[NAME]`` as the contract states it, with the metric's ``more`` details after."""
    return {"counting": counting, "energy_model": energy_model, "models": models, "layers": layers,
            "firing_rates": firing_rates, "observed_images": observed_images, **more}


@dataclass
class EnergyDetails:
    """What a record says of its energy (empty when it counted none)."""

    models: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    layers: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    firing_rates: Dict[str, Optional[float]] = field(default_factory=dict)
    observed_images: int = 1
    per_image: bool = True  # False: the first counter's layers, summed over the observed images

    @classmethod
    def of(cls, record: Dict[str, Any]) -> "EnergyDetails":
        energy = ((record.get("details") or {}).get(NAME)) or {}
        return cls(models=energy.get("models") or {}, layers=energy.get("layers") or {},
                   firing_rates=energy.get("firing_rates") or {},
                   observed_images=energy.get("observed_images") or 1, per_image="models" in energy)

    def stored(self, model: str) -> Optional[float]:
        """mJ per image under ``model`` as the record stored it (None: the record did not price it)."""
        priced = self.models.get(model)
        return None if priced is None else priced.get(VALUE)
