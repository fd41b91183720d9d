"""The energy counter on tiny networks whose operations are worked out by hand."""
import math

import pytest
import torch
from torch import nn

from sdmbench.neuron import NEURON_TAG
from sdmbench.energy import EnergyCounter
from sdmbench_energy.prices import FP32_COMPUTE


def spikes_3x3(*on):
    x = torch.zeros(1, 1, 3, 3)
    for r, c in on:
        x[0, 0, r, c] = 1.0
    return x


def test_sops_count_each_spike_times_the_outputs_it_reaches():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    # centre spike reaches all 9 outputs of each of 2 channels (18); the corner one reaches 4 (8)
    with EnergyCounter(conv) as counter:
        conv(spikes_3x3((1, 1), (0, 0)))
    total = counter.total()
    assert total.acs == 26 and total.macs == 0
    assert math.isclose(FP32_COMPUTE.price(counter.layers).total_j, 26 * 0.9e-12)


def test_strided_convolution_fan_out_honours_stride_and_borders():
    conv = nn.Conv2d(1, 3, 3, stride=2, padding=1)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1  # inside the windows of outputs (0,0), (0,1), (1,0), (1,1)
    x[0, 0, 3, 3] = 1  # inside the window of output (1,1) only
    with EnergyCounter(conv) as counter:
        conv(x)
    assert counter.total().acs == (4 + 1) * 3


def test_real_inputs_count_macs_and_spikes_count_sops_in_one_network():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(18, 4))
    with EnergyCounter(net) as counter:
        net(spikes_3x3((1, 1), (0, 0)))  # conv: 26 SOPs; linear gets real values: 4 x 18 MACs
    total = counter.total()
    assert (total.acs, total.macs) == (26, 72)
    assert math.isclose(FP32_COMPUTE.price(counter.layers).total_j * 1e12, 26 * 0.9 + 72 * 4.6)  # 354.6


def test_spikes_of_one_shared_value_count_as_sops_and_two_values_as_macs():
    # a converted IF neuron emits theta * s: the accumulates of theta * w, theta folded into the weights
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with EnergyCounter(conv) as counter:
        conv(1.5 * spikes_3x3((1, 1), (0, 0)))
    assert (counter.total().acs, counter.total().macs) == (26, 0)
    two_values = spikes_3x3((1, 1), (0, 0))
    two_values[0, 0, 0, 0] = 0.5
    with EnergyCounter(conv) as counter:
        conv(two_values)
    assert (counter.total().acs, counter.total().macs) == (0, 2 * 9 * 9)


def test_spike_test_rejects_negative_values_in_and_beyond_the_first_elements_it_reads_first():
    from sdmbench.energy.synapses import HEAD, spike_value

    spikes = torch.zeros(2 * HEAD)
    spikes[::7] = 0.25
    assert spike_value(spikes) == 0.25 and spike_value(torch.zeros(5)) == 0.0
    assert spike_value(torch.full((8,), -1.0)) is None  # one shared value, but negative
    late = spikes.clone()
    late[HEAD + 3] = -0.25  # the head is a spike map; the full pass finds the negative value
    assert spike_value(late) is None
    late[HEAD + 3] = 0.5  # a second positive value beyond the head
    assert spike_value(late) is None


def test_dense_convolution_macs_are_outputs_times_kernel_volume():
    conv = nn.Conv2d(2, 4, 3, padding=1)
    with EnergyCounter(conv) as counter:
        conv(torch.randn(1, 2, 5, 5))  # 4*25 outputs x (2*9) weights
    assert counter.total().macs == 100 * 18


def test_linear_fed_spikes_counts_each_spike_times_out_features():
    lin = nn.Linear(5, 3)
    with EnergyCounter(lin) as counter:
        lin(torch.tensor([[1.0, 0, 1, 1, 0]]))
    assert counter.total().acs == 9


def test_transposed_convolution_fed_spikes_counts_exact_reach():
    deconv = nn.ConvTranspose2d(1, 2, 2, stride=2)
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 0, 0] = 1  # each input scatters into a 2x2 block: 4 outputs x 2 channels
    with EnergyCounter(deconv) as counter:
        deconv(x)
    assert counter.total().acs == 8


def test_firing_rates_and_elementwise_ops_are_reported_separately():
    class Step(nn.Module):
        def forward(self, x):
            return 1.5 * (x > 0).float()  # spikes may carry one value (converted IF: theta)

    neuron = Step()
    setattr(neuron, NEURON_TAG, True)
    net = nn.Sequential(nn.BatchNorm2d(1), neuron)
    with EnergyCounter(net.eval()) as counter:
        net(torch.tensor([[[[1.0, -1.0], [2.0, -3.0]]]]))
    assert counter.firing_rates() == {"1": pytest.approx(0.5)}
    assert counter.total().elementwise == 8  # BN 4 + neuron 4
    assert FP32_COMPUTE.price(counter.layers).total_j == 0  # not priced by the compute convention


def test_hooks_are_removed_after_counting():
    conv = nn.Conv2d(1, 1, 1)
    with EnergyCounter(conv):
        pass
    assert not conv._forward_hooks
