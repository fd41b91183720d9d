"""Energy: counting a real pass (:mod:`.counter`, :mod:`.counts`) apart from
pricing it (:mod:`.model`, the ``energy_model`` plugin kind)."""
from sdmbench.energy.counter import EnergyCounter
from sdmbench.energy.counts import Counts, Layer, per_image
from sdmbench.energy.model import Energy, PriceList, interpolated, price_all

__all__ = ["Counts", "Energy", "EnergyCounter", "Layer", "PriceList", "interpolated", "per_image", "price_all"]
