"""The built-in energy models, every constant from Horowitz, "Computing's
energy problem (and what we can do about it)", ISSCC 2014 (45 nm, 0.9 V):

=====================  ==========================================
8-bit integer add       0.03 pJ;  8-bit integer multiply  0.2 pJ
32-bit integer add      0.1 pJ;   32-bit integer multiply 3.1 pJ
32-bit float add        0.9 pJ;   32-bit float multiply   3.7 pJ
SRAM read, 64 bits      8 KB: 10 pJ; 32 KB: 20 pJ; 1 MB: 100 pJ
=====================  ==========================================

- ``fp32-compute``: ``E = 4.6 pJ x MACs + 0.9 pJ x ACs`` (float multiply +
  add; float add). The convention of the SNN literature (and of sdmbench's
  records before energy models): elementwise work and memory are not priced.
- ``int8-compute``: the same counts at 8-bit integer arithmetic, ANN and SNN
  alike: ``E = 0.23 pJ x MACs + 0.03 pJ x ACs``.
- ``memory-aware``: after Lemaire et al., "An analytical estimation of
  spiking neural networks energy efficiency" (ICONIP 2022): 32-bit integer
  arithmetic (MAC 3.2 pJ, AC 0.1 pJ, addition 0.1 pJ, and an elementwise
  update, a neuron step or a normalisation, priced as one multiply and one
  add, 3.2 pJ), plus every memory access: weights, activations and membrane
  potentials 32 bits, spikes 1 bit, each bit priced as a 64-bit SRAM read of
  a buffer the size of the layer's weights (for weight reads) or of its
  per-image activation or state map (for the rest), linear between
  Horowitz's three SRAM sizes and constant outside them (0.156 pJ/bit up to
  8 KB, 1.56 pJ/bit from 1 MB). Writes are priced as reads.
"""
from __future__ import annotations

from sdmbench.energy import PriceList, interpolated

HOROWITZ = "Horowitz, ISSCC 2014"
KB = 1024

FP32_COMPUTE = PriceList(
    name="fp32-compute", node="45 nm",
    description="32-bit float arithmetic: MACs and synaptic accumulates only; normalisation, neuron updates, "
                "additions and memory are not priced",
    source=HOROWITZ, ops_pj={"macs": 3.7 + 0.9, "acs": 0.9})

INT8_COMPUTE = PriceList(
    name="int8-compute", node="45 nm",
    description="8-bit integer arithmetic for ANN and SNN alike: MACs and accumulates only; normalisation, "
                "neuron updates, additions and memory are not priced",
    source=HOROWITZ, ops_pj={"macs": 0.2 + 0.03, "acs": 0.03})

SRAM_PJ_PER_BIT = interpolated([(8 * KB, 10 / 64), (32 * KB, 20 / 64), (1024 * KB, 100 / 64)])

MEMORY_AWARE = PriceList(
    name="memory-aware", node="45 nm",
    description="32-bit integer arithmetic, elementwise updates and additions, plus every memory access "
                "(SRAM priced by buffer size)",
    source=f"Lemaire et al., ICONIP 2022, with the constants of {HOROWITZ}",
    ops_pj={"macs": 3.1 + 0.1, "acs": 0.1, "elementwise": 3.1 + 0.1, "adds": 0.1},
    bits={"weight_reads": 32, "activation_reads": 32, "activation_writes": 32, "spike_reads": 1,
          "spike_writes": 1, "state_reads": 32, "state_writes": 32},
    pj_per_bit=SRAM_PJ_PER_BIT)
