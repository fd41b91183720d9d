"""A record holds every energy model's energy and its per-layer counts, so
that the leaderboard can price it under any model, even one installed
later; records of the first counter are priced only where they can be."""
import pytest
import torch

from sdmbench.board import leaderboard
from sdmbench.energy import Counts, Layer, PriceList
from sdmbench.energy.records import record_energy
from sdmbench.scoring.metric import ScoringContext
from sdmbench.running.sampling import observed_sampling
from sdmbench_energy.prices import FP32_COMPUTE, INT8_COMPUTE, MEMORY_AWARE
from sdmbench_metrics.energy import Energy
from test_energy_memory import Residual

LATER = PriceList("later", "a model installed after the run", "test", "-", ops_pj={"acs": 2.0, "elementwise": 1.0})


def energy_record(batches=2, images=3):
    """The energy metric's scores of ``batches`` passes of a small spiking network, as a record keeps them."""
    torch.manual_seed(0)
    net, metric = Residual(), Energy()
    for _ in range(batches):
        with metric.observe(net):
            net(torch.randn(images, 2, 3, 3) * 3)
    ctx = ScoringContext(samples=torch.zeros(0), data=None, protocol={},
                         sampling=observed_sampling([images] * batches, steps=1))
    scores = metric.compute(ctx)
    return {"metrics": scores.values, "details": {"energy": scores.details}}, metric.counter


def test_every_registered_model_is_in_the_record_and_the_default_is_its_energy():
    record, counter = energy_record()
    models = record["details"]["energy"]["models"]
    assert {"fp32-compute", "int8-compute", "memory-aware"} <= set(models)
    per_image = {n: layer.with_counts(layer.counts.scaled(1 / 6)) for n, layer in counter.layers.items()}
    assert models["memory-aware"]["energy_per_image_mj"] == pytest.approx(MEMORY_AWARE.price(per_image).total_j * 1e3)
    assert record["metrics"]["energy_per_image_mj"] == models["fp32-compute"]["energy_per_image_mj"]
    assert record["metrics"]["sops_per_image"] == pytest.approx(counter.total().acs / 6)
    assert record["details"]["energy"]["batches"] == 2 and record["metrics"]["energy_batch_sd_mj"] >= 0


def test_a_model_installed_later_prices_the_recorded_counts():
    record, counter = energy_record()
    total = counter.total()
    assert record_energy(record, "later", LATER) == pytest.approx((2.0 * total.acs + total.elementwise) / 6 * 1e-9)
    assert record_energy(record, "int8-compute", INT8_COMPUTE) == \
        record["details"]["energy"]["models"]["int8-compute"]["energy_per_image_mj"]


FIRST_COUNTER = {"metrics": {"energy_per_image_mj": 1.0},  # stored figure: not what is read
                 "details": {"energy": {"observed_images": 2, "e_mac_pj": 4.6, "e_ac_pj": 0.9, "layers": {
                     "conv": {"type": "Conv2d", "calls": 1, "macs": 100, "sops": 50},
                     "fire": {"type": "IF", "calls": 1, "elementwise_ops": 40}}}}}


def test_records_of_the_first_counter_are_priced_only_by_operation_only_models():
    assert record_energy(FIRST_COUNTER, "fp32-compute", FP32_COMPUTE) == pytest.approx((100 * 4.6 + 50 * 0.9) / 2 * 1e-9)
    assert record_energy(FIRST_COUNTER, "memory-aware", MEMORY_AWARE) is None
    assert record_energy(FIRST_COUNTER, "later", LATER) is None  # it prices elementwise work, not counted then
    assert record_energy({"metrics": {}}, "fp32-compute", FP32_COMPUTE) is None


def test_the_leaderboard_prices_and_names_the_chosen_model():
    from test_leaderboard import record

    run = record("a", 10.0)
    run["details"] = {"energy": {"models": {"fp32-compute": {"energy_per_image_mj": 1.5},
                                            "memory-aware": {"energy_per_image_mj": 7.25}}, "layers": {}}}
    [fp32] = leaderboard.rows([run], energy=("fp32-compute", FP32_COMPUTE))
    [memory] = leaderboard.rows([run], energy=("memory-aware", MEMORY_AWARE))
    assert (fp32["energy_mj_per_image"], memory["energy_mj_per_image"]) == (1.5, 7.25)
    assert memory["energy_model"] == "memory-aware"
    assert "Energy model: `memory-aware`" in leaderboard.to_markdown([memory])
    assert ",memory-aware," in leaderboard.to_csv([memory])


def test_counts_keep_their_fields_through_a_record():
    layer = Layer("Conv2d", weights=20, state=18, calls=2, counts=Counts(acs=26, weight_reads=40, spike_reads=9))
    back = Layer.from_dict(layer.as_dict())
    assert back.counts == layer.counts and (back.weights, back.state) == (20, 18)
    assert Layer.from_dict({"type": "Conv2d", "macs": 3, "sops": 5}).counts == Counts(macs=3, acs=5)
