"""``event-driven``: an idealised event-driven core with its weights and
membrane potentials in small (8 KB) SRAMs beside the arithmetic, priced per
event from Horowitz, ISSCC 2014 (45 nm):

- synaptic event (an accumulate): fetch an 8-bit weight (8 bits x 10 pJ / 64
  bits = 1.25 pJ) and add it to a 16-bit potential (0.05 pJ): 1.30 pJ;
- neuron update (any elementwise operation): read and write a 16-bit
  potential (32 bits x 10 / 64 pJ = 5.0 pJ) and one 16-bit add: 5.05 pJ;
- a MAC (the layers that are not fed spikes): fetch an 8-bit weight and an
  8-bit activation (2.5 pJ) and an 8-bit multiply-add (0.23 pJ): 2.73 pJ.

The memory traffic is inside the per-event prices, so the model prices no
separate access class. A chip's published per-event figures go in the same
place."""
import sdmbench
from sdmbench.energy import PriceList

SRAM_8KB_PJ_PER_BIT = 10 / 64

EVENT_DRIVEN = PriceList(
    name="event-driven", node="45 nm",
    description="idealised event-driven core: per synaptic event, neuron update and MAC, memory included",
    source="Horowitz, ISSCC 2014 (8-bit weights, 16-bit potentials, 8 KB SRAM)",
    ops_pj={"acs": 8 * SRAM_8KB_PJ_PER_BIT + 0.05,
            "elementwise": 32 * SRAM_8KB_PJ_PER_BIT + 0.05,
            "macs": 16 * SRAM_8KB_PJ_PER_BIT + 0.2 + 0.03})


@sdmbench.hookimpl
def sdmbench_register_energy_models(registry):
    registry.add(EVENT_DRIVEN.name, lambda: EVENT_DRIVEN, description=EVENT_DRIVEN.describe())
