"""Energy models: a plugin kind whose built-ins price counts as their
docstrings state (checked by hand), and which a separate package extends."""
import json

import pytest

from conftest import install_example, run_python
from sdmbench.energy import Counts, Layer, PriceList, interpolated
from sdmbench.energy.model import registered_models
from sdmbench_energy.prices import FP32_COMPUTE, INT8_COMPUTE, MEMORY_AWARE, SRAM_PJ_PER_BIT

# a 3x3 convolution, 1 -> 2 channels with bias (20 parameters), fed 9 spike elements (2 spikes)
CONV = Layer("Conv2d", weights=20, state=18,
             counts=Counts(acs=26, weight_reads=20, spike_reads=9, activation_writes=18))
# the same convolution fed real values, then a neuron over its 18 outputs
DENSE = Layer("Conv2d", weights=20, state=18,
              counts=Counts(macs=162, weight_reads=20, activation_reads=9, activation_writes=18))
NEURON = Layer("IF", state=18, counts=Counts(elementwise=18, activation_reads=18, state_reads=18,
                                             state_writes=18, spike_writes=18))


def test_compute_models_price_macs_and_accumulates_only():
    assert FP32_COMPUTE.price({"c": CONV}).total_j == pytest.approx(26 * 0.9e-12)
    assert FP32_COMPUTE.price({"d": DENSE, "n": NEURON}).total_j == pytest.approx(162 * 4.6e-12)
    assert INT8_COMPUTE.price({"c": CONV, "d": DENSE}).total_j == pytest.approx((26 * 0.03 + 162 * 0.23) * 1e-12)
    assert FP32_COMPUTE.price({"c": CONV}).memory_j == 0


def test_memory_aware_prices_every_bit_by_the_size_of_its_buffer():
    small = 10 / 64  # pJ per bit of a buffer up to 8 KB (a 64-bit read of an 8 KB SRAM costs 10 pJ)
    compute = 26 * 0.1
    memory = 20 * 32 * small + 9 * 1 * small + 18 * 32 * small  # weights, spikes in, outputs out
    energy = MEMORY_AWARE.price({"c": CONV})
    assert energy.compute_j == pytest.approx(compute * 1e-12) and energy.memory_j == pytest.approx(memory * 1e-12)
    neuron = MEMORY_AWARE.price({"n": NEURON})
    assert neuron.compute_j == pytest.approx(18 * 3.2e-12)
    assert neuron.memory_j == pytest.approx((18 * 32 * 3 + 18 * 1) * small * 1e-12)  # in, v read + write; spikes


def test_sram_price_per_bit_is_linear_between_horowitz_sizes_and_flat_outside():
    assert SRAM_PJ_PER_BIT(1) == SRAM_PJ_PER_BIT(8 * 1024) == pytest.approx(10 / 64)
    assert SRAM_PJ_PER_BIT(20 * 1024) == pytest.approx(15 / 64)  # halfway from 8 KB (10 pJ) to 32 KB (20 pJ)
    assert SRAM_PJ_PER_BIT(4 * 2 ** 20) == pytest.approx(100 / 64)
    big = Layer("Linear", weights=2 ** 20, counts=Counts(weight_reads=1))  # a 4 MB weight buffer
    assert MEMORY_AWARE.price({"l": big}).memory_j == pytest.approx(32 * 100 / 64 * 1e-12)
    assert interpolated([(0, 0.0), (10, 1.0)])(5) == pytest.approx(0.5)


def test_a_price_list_refuses_counts_it_does_not_know():
    with pytest.raises(ValueError, match="unknown counts"):
        PriceList("x", "", "", "", ops_pj={"flops": 1.0})
    with pytest.raises(ValueError, match="no price per bit"):
        PriceList("x", "", "", "", ops_pj={}, bits={"weight_reads": 8})


def test_the_built_in_models_are_registered_and_fp32_compute_is_the_default():
    models, default = registered_models()
    assert {"fp32-compute", "int8-compute", "memory-aware"} <= set(models)
    assert default == "fp32-compute"
    for model in models.values():
        assert model.source and "Horowitz" in model.describe()


def test_a_separate_package_adds_an_energy_model(tmp_path_factory):
    env = install_example(tmp_path_factory, "sdmbench-event-energy")
    code = ("import json; from sdmbench.energy import Counts, Layer; from sdmbench.energy.model import "
            "registered_models; models, default = registered_models(); "
            "layer = Layer('Conv2d', counts=Counts(acs=10, elementwise=4, macs=2)); "
            "print(json.dumps([default, sorted(models), models['event-driven'].price({'c': layer}).total_j]))")
    proc = run_python(code, env)
    assert proc.returncode == 0, proc.stderr
    default, names, joules = json.loads(proc.stdout)
    assert default == "fp32-compute" and "event-driven" in names
    assert joules == pytest.approx((10 * 1.30 + 4 * 5.05 + 2 * 2.73) * 1e-12)
