"""Energy models: a price list that turns counts into joules.

The contract (:class:`sdmbench.plugin_api.contracts.EnergyModel`): an energy model has a
``name``, a ``source`` (where its constants come from, with the technology
node) and ``price(layers) -> Energy``, where ``layers`` maps layer names to
:class:`~sdmbench.energy.counts.Layer` (counts per image). Plugins register
factories returning one under the ``energy_model`` kind
(``sdmbench_register_energy_models``); a record holds every registered
model's energy, and ``sdmbench leaderboard --energy-model NAME`` picks the one
it sorts and plots by.

:class:`PriceList` is the model the built-ins are: per operation a price, per
memory access class a bit width, and a price per bit that may depend on the
size of the buffer the access goes to (what SRAM costs grow with)::

    E = sum_layers [ sum_ops n_op * e_op
                     + sum_access n_access * bits_access * e_bit(buffer bytes) ]

where a layer's weight buffer holds its ``weights`` and its activation,
spike and state buffers hold its ``state`` elements, at their bit widths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional

from sdmbench.energy.counts import ACCESSES, OPERATIONS, Layer

PICO = 1e-12


@dataclass(frozen=True)
class Energy:
    """Joules per image: compute and memory (a compute-only model's memory is 0)."""

    compute_j: float
    memory_j: float = 0.0

    @property
    def total_j(self) -> float:
        return self.compute_j + self.memory_j

    def as_dict(self) -> Dict[str, float]:
        """What a record keeps: millijoules per image."""
        return {"energy_per_image_mj": self.total_j * 1e3, "compute_mj": self.compute_j * 1e3,
                "memory_mj": self.memory_j * 1e3}


#: access class -> which buffer of a layer it goes to
BUFFER = {"weight_reads": "weights", "activation_reads": "state", "activation_writes": "state",
          "spike_reads": "state", "spike_writes": "state", "state_reads": "state", "state_writes": "state"}


@dataclass(frozen=True)
class PriceList:
    """A documented price list (see the module docstring for the equation).

    ``ops_pj``: picojoules per operation (``macs``, ``acs``, ``elementwise``,
    ``adds``; absent ones cost nothing). ``bits``: bit width of each memory
    access class (absent ones are not priced). ``pj_per_bit(buffer_bytes)``:
    the price of one bit moved to or from a buffer of that size."""

    name: str
    description: str
    source: str
    node: str
    ops_pj: Mapping[str, float]
    bits: Mapping[str, int] = field(default_factory=dict)
    pj_per_bit: Optional[Callable[[float], float]] = None

    def __post_init__(self):
        unknown = (set(self.ops_pj) - set(OPERATIONS)) | (set(self.bits) - set(ACCESSES))
        if unknown:
            raise ValueError(f"energy model '{self.name}' prices unknown counts {sorted(unknown)}; "
                             f"operations are {OPERATIONS}, accesses {ACCESSES}")
        if self.bits and self.pj_per_bit is None:
            raise ValueError(f"energy model '{self.name}' gives bit widths but no price per bit")

    def price(self, layers: Mapping[str, Layer]) -> Energy:
        compute = memory = 0.0
        for layer in layers.values():
            c = layer.counts
            compute += sum(getattr(c, op) * pj for op, pj in self.ops_pj.items())
            for access, bits in self.bits.items():
                n = getattr(c, access)
                if n:
                    size = (layer.weights if BUFFER[access] == "weights" else layer.state) * bits / 8
                    memory += n * bits * self.pj_per_bit(size)
        return Energy(compute * PICO, memory * PICO)

    def describe(self) -> str:
        ops = ", ".join(f"{op} {pj:g} pJ" for op, pj in self.ops_pj.items())
        bits = ", ".join(f"{a} {b} bit" for a, b in self.bits.items())
        return f"{self.description} ({self.node}; {ops}{'; ' + bits if bits else ''}; {self.source})"


def interpolated(points) -> Callable[[float], float]:
    """``pj_per_bit(size)`` linear between ``(buffer bytes, pJ per bit)`` points, constant beyond them."""
    points = sorted(points)

    def price(size: float) -> float:
        if size <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if size <= x1:
                return y0 + (y1 - y0) * (size - x0) / (x1 - x0)
        return points[-1][1]

    return price


def price_all(layers: Mapping[str, Layer], models: Mapping[str, object]) -> Dict[str, Dict[str, float]]:
    """Every model's energy per image (``layers`` counted per image), keyed by model name."""
    return {name: model.price(layers).as_dict() for name, model in models.items()}


def registered_models(plugins=None):
    """``({name: energy model}, default name)`` of ``plugins`` (the installed ones when None); the default is
    the first registered with ``default=True`` (the built-in one), else the first by name."""
    if plugins is None:
        from sdmbench.plugin_api import loader as loader

        plugins = loader.get()
    registry = plugins.energy_model
    models = {name: registry.get(name)() for name in registry.names()}
    return models, registry.first_default() or next(iter(models), None)
