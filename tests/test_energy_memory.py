"""What the counter records beside operations: memory accesses, additions
between layers, per-step and per-batch totals; worked out by hand."""
import pytest
import torch
from torch import nn

from sdmbench.energy import EnergyCounter
from sdmbench.energy.counter import ADDITIONS_LAYER
from sdmbench.plugin_api.neuron import NEURON_TAG


class Fire(nn.Module):
    """A stand-in neuron: input [T, B, ...] -> 0/1 spikes."""

    def forward(self, x):
        return (x > 0).float()


class Residual(nn.Module):
    """conv -> neuron -> conv, plus the input: one addition of 2 x 3 x 3 elements."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)  # 2*2*9 + 2 = 38 parameters
        self.fire = Fire()
        setattr(self.fire, NEURON_TAG, True)
        self.b = nn.Conv2d(2, 2, 1, bias=False)  # 4 parameters

    def forward(self, x):
        s = self.fire(self.a(x).unsqueeze(0)).squeeze(0)  # T = 1
        return self.b(s) + x


def test_a_synaptic_layer_reads_its_weights_per_sample_its_input_and_writes_its_output():
    conv = nn.Conv2d(1, 2, 3, padding=1)  # 18 weights + 2 biases
    fire = Fire()
    setattr(fire, NEURON_TAG, True)
    fed = nn.Sequential(fire, conv)  # spikes by provenance: a neuron's output
    x = torch.zeros(3, 1, 3, 3)
    x[:, 0, 1, 1] = 1.0
    with EnergyCounter(fed) as counter:
        fed(x)
    layer = counter.layers["1"]
    c = layer.counts
    assert (c.weight_reads, c.spike_reads, c.activation_reads, c.activation_writes) == (3 * 20, 27, 0, 3 * 18)
    assert (layer.weights, layer.state) == (20, 18)
    with EnergyCounter(conv) as counter:
        conv(torch.randn(3, 1, 3, 3))
    c = counter.layers[""].counts
    assert (c.activation_reads, c.spike_reads) == (27, 0)


def test_neurons_read_and_write_their_membrane_and_write_spikes_and_additions_are_counted_once():
    net = Residual()
    x = torch.randn(1, 2, 3, 3)
    with EnergyCounter(net) as counter:
        y = net(x)
        _ = y - y  # the sampler's arithmetic between calls: not the network's
    fire = counter.layers["fire"].counts
    assert (fire.elementwise, fire.state_reads, fire.state_writes, fire.spike_writes, fire.activation_reads) \
        == (18, 18, 18, 18, 18)
    assert counter.layers["fire"].state == 18  # [T=1, B=1, 2, 3, 3]
    add = counter.layers[ADDITIONS_LAYER].counts
    assert (add.adds, add.activation_reads, add.activation_writes) == (18, 36, 18)
    assert counter.layers[ADDITIONS_LAYER].calls == 1
    assert counter.layers["b"].counts.weight_reads == 4


def test_every_call_is_a_step_and_every_entry_a_batch():
    net = Residual()
    x = torch.randn(1, 2, 3, 3)
    counter = EnergyCounter(net)
    for _batch in range(2):  # two batches of three denoising steps
        with counter:
            for _step in range(3):
                net(x)
    assert len(counter.steps) == 3 and len(counter.batches) == 2
    one_call = counter.layers["b"].counts.acs // 6
    assert all(step["acs"] == 2 * one_call for step in counter.steps)
    assert counter.batches[0]["b"].acs == counter.batches[1]["b"].acs == 3 * one_call
    spikes = counter.spikes["fire"]
    assert sum(s["spikes"] for s in counter.steps) == spikes[0] and spikes[1] == 6 * 18


def test_counts_from_another_rank_add_up():
    net = Residual()
    x = torch.randn(1, 2, 3, 3)
    mine, theirs = EnergyCounter(net), EnergyCounter(net)
    for counter in (mine, theirs):
        with counter:
            net(x)
    expected = mine.total() + theirs.total()
    mine.absorb(theirs.observations())
    assert mine.total() == expected and len(mine.batches) == 2
    assert mine.steps[0]["acs"] == 2 * theirs.steps[0]["acs"]
    assert mine.firing_rates() == pytest.approx(theirs.firing_rates())
