"""Energy: counting a real pass (:mod:`.counter`, :mod:`.counts`) apart from
pricing it (:mod:`.model`, the ``energy_model`` plugin kind)."""
from sdmbench.energy.counter import EnergyCounter
from sdmbench.energy.synapses import is_spike_train
from sdmbench.energy.counts import Counts, Layer
from sdmbench.energy.model import Energy, PriceList, interpolated, price_all

__all__ = ["Counts", "Energy", "EnergyCounter", "Layer", "PriceList", "interpolated", "is_spike_train",
           "price_all"]
