"""What a network's forward pass does, counted apart from what it costs.

One :class:`Counts` holds, for one layer (or a whole pass), operations and
memory accesses as plain element counts; an energy model
(:mod:`sdmbench.energy.model`) turns them into joules with its own prices and
bit widths. The convention, per layer call:

- synaptic layer (Conv1d/2d, ConvTranspose2d, Linear) fed spikes (0 or one
  shared value): ``acs`` = the synaptic accumulates, each input spike times
  the outputs it reaches; fed anything else: ``macs`` = outputs x (C_in /
  groups x kernel area). Memory: every weight and bias read once per sample
  and time step (``weight_reads`` = parameters x leading dimension, which is
  T x B for a spiking layer), the input map read (``spike_reads`` for a spike
  map, one bit each; ``activation_reads`` otherwise), the outputs written
  (``activation_writes``).
- neuron (a module tagged by :func:`sdmbench.plugin_api.neuron.neuron_maker`): one
  ``elementwise`` update per output, its membrane potential read and written
  (``state_reads``, ``state_writes``), its input currents read and its spikes
  written (``spike_writes``).
- normalisation and activation layers: one ``elementwise`` operation per
  output, the input read and the output written.
- additions of two tensors outside any counted layer (residual and
  time-embedding additions): ``adds`` = outputs, two reads and one write each.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Dict, Mapping

#: operation counts (priced per operation)
OPERATIONS = ("macs", "acs", "elementwise", "adds")
#: memory accesses, in elements (an energy model gives each its bit width)
ACCESSES = ("weight_reads", "activation_reads", "activation_writes", "spike_reads", "spike_writes",
            "state_reads", "state_writes")


@dataclass
class Counts:
    """Operations and memory accesses (elements) of one layer or one pass."""

    macs: int = 0
    acs: int = 0
    elementwise: int = 0
    adds: int = 0
    weight_reads: int = 0
    activation_reads: int = 0
    activation_writes: int = 0
    spike_reads: int = 0
    spike_writes: int = 0
    state_reads: int = 0
    state_writes: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def scaled(self, factor: float) -> "Counts":
        """Every count times ``factor`` (per image: ``1 / images``); floats from here on."""
        return Counts(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> "Counts":
        """Counts from a record; fields a record lacks (an older counter's) read as 0, and an older
        record's ``sops`` are its accumulates."""
        values = {"acs": values.get("sops", 0), **values}
        return cls(**{f.name: values.get(f.name, 0) or 0 for f in fields(cls)})


@dataclass
class Layer:
    """One counted layer: its kind (module class), its size, and its counts.

    ``weights``: parameters the layer holds; ``state``: neuron states (or, for
    other layers, output elements) per leading-dimension slice, what the
    layer's activation or membrane buffer has to hold."""

    kind: str
    weights: int = 0
    state: int = 0
    calls: int = 0
    input_spikes: int = 0
    input_elements: int = 0
    counts: Counts = None

    def __post_init__(self):
        if self.counts is None:
            self.counts = Counts()

    def with_counts(self, counts: Counts) -> "Layer":
        """This layer (kind and sizes) with other counts (per image, one batch's, ...)."""
        return Layer(self.kind, self.weights, self.state, self.calls, counts=counts)

    def absorb(self, other: "Layer") -> None:
        self.calls += other.calls
        self.input_spikes += other.input_spikes
        self.input_elements += other.input_elements
        self.weights, self.state = max(self.weights, other.weights), max(self.state, other.state)
        self.counts = self.counts + other.counts

    def as_dict(self, images: int = 1) -> dict:
        """The layer as a record keeps it: counts per image, input spike rate of a synaptic layer."""
        out = {"type": self.kind, "calls": self.calls, "weights": self.weights, "state": self.state,
               **self.counts.scaled(1 / images).as_dict()}
        if self.counts.acs and self.input_elements:
            out["input_rate"] = self.input_spikes / self.input_elements
        return out

    @classmethod
    def from_dict(cls, values: Mapping) -> "Layer":
        """A layer back from a record (counts per image)."""
        return cls(values.get("type", "?"), values.get("weights", 0), values.get("state", 0),
                   values.get("calls", 0), counts=Counts.from_dict(values))


def per_image(layers: Mapping[str, Layer], images: int) -> Dict[str, Layer]:
    """The layers with their counts divided by ``images`` (what energy models price)."""
    return {name: layer.with_counts(layer.counts.scaled(1 / images)) for name, layer in layers.items()}
