"""The energy counter on tiny networks whose operations are worked out by hand."""
import math

import pytest
import torch
from torch import nn

from sdmbench.plugin_api.neuron import NEURON_TAG
from sdmbench.energy import EnergyCounter
from sdmbench_energy.prices import FP32_COMPUTE


def spikes_3x3(*on):
    x = torch.zeros(1, 1, 3, 3)
    for r, c in on:
        x[0, 0, r, c] = 1.0
    return x


class Fire(nn.Module):
    """A neuron that emits its input (already 0 or one value): spikes by provenance, for hand-made maps."""

    def __init__(self):
        super().__init__()
        setattr(self, NEURON_TAG, True)

    def forward(self, x):
        return x.clone()


def fed_spikes(layer: nn.Module) -> nn.Module:
    return nn.Sequential(Fire(), layer)


def reach(x: torch.Tensor, kernel: int, padding: int) -> int:
    """Sum over nonzero inputs of the outputs their window reaches (per output channel), by brute force."""
    hits = 0
    h, w = x.shape[-2:]
    for c in range(x.shape[1]):
        for i in range(h):
            for j in range(w):
                if x[0, c, i, j]:
                    rows = [r for r in range(h + 2 * padding - kernel + 1) if r <= i + padding < r + kernel]
                    cols = [q for q in range(w + 2 * padding - kernel + 1) if q <= j + padding < q + kernel]
                    hits += len(rows) * len(cols)
    return hits


def test_sops_count_each_spike_times_the_outputs_it_reaches():
    conv = fed_spikes(nn.Conv2d(1, 2, 3, padding=1, bias=False))
    # centre spike reaches all 9 outputs of each of 2 channels (18); the corner one reaches 4 (8)
    with EnergyCounter(conv) as counter:
        conv(spikes_3x3((1, 1), (0, 0)))
    total = counter.total()
    assert total.acs == 26 and total.macs == 0
    assert math.isclose(FP32_COMPUTE.price(counter.layers).total_j, 26 * 0.9e-12)


def test_strided_convolution_fan_out_honours_stride_and_borders():
    conv = fed_spikes(nn.Conv2d(1, 3, 3, stride=2, padding=1))
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1  # inside the windows of outputs (0,0), (0,1), (1,0), (1,1)
    x[0, 0, 3, 3] = 1  # inside the window of output (1,1) only
    with EnergyCounter(conv) as counter:
        conv(x)
    assert counter.total().acs == (4 + 1) * 3


def test_real_inputs_count_macs_and_spikes_count_sops_in_one_network():
    net = nn.Sequential(Fire(), nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(18, 4))
    with EnergyCounter(net) as counter:
        net(spikes_3x3((1, 1), (0, 0)))  # conv: 26 SOPs; linear gets real values: 4 x 18 MACs
    total = counter.total()
    assert (total.acs, total.macs) == (26, 72)
    assert math.isclose(FP32_COMPUTE.price(counter.layers).total_j * 1e12, 26 * 0.9 + 72 * 4.6)  # 354.6


def test_spikes_of_one_shared_value_count_as_sops():
    # a converted IF neuron emits theta * s: the accumulates of theta * w, theta folded into the weights
    conv = fed_spikes(nn.Conv2d(1, 2, 3, padding=1, bias=False))
    with EnergyCounter(conv) as counter:
        conv(1.5 * spikes_3x3((1, 1), (0, 0)))
    assert (counter.total().acs, counter.total().macs) == (26, 0)


def test_zeros_and_ones_that_no_neuron_emitted_are_real_values_and_cost_macs():
    # spikes by provenance, not by value: the sinusoidal time embedding at t = 0 is all 0 and 1
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with EnergyCounter(conv) as counter:
        conv(spikes_3x3((1, 1), (0, 0)))
    assert (counter.total().acs, counter.total().macs) == (0, 2 * 9 * 9)


class Carried(nn.Module):
    """Spikes moved about before a convolution: view, concatenation, nearest up-sampling, max pooling,
    zero padding and a positive gain keep them spikes."""

    def __init__(self):
        super().__init__()
        self.fire, self.conv = Fire(), nn.Conv2d(2, 3, 3, padding=1, bias=False)

    def forward(self, x):
        s = self.fire(x)
        s = torch.cat([s, s.flip(-1).contiguous()[:, :, :, :]], dim=1)  # flip is not a carrier
        return self.conv(s)


def test_spike_provenance_survives_operations_that_only_move_spikes():
    x = spikes_3x3((1, 1), (0, 2), (2, 0))
    ups = nn.Sequential(Fire(), nn.Upsample(scale_factor=2), nn.ZeroPad2d(1), nn.MaxPool2d(2),
                        nn.Flatten(0, 1), nn.Unflatten(0, (1, 1)), nn.Conv2d(1, 3, 3, padding=1, bias=False))
    with EnergyCounter(ups) as counter:
        ups(x)
    moved = torch.nn.functional.max_pool2d(torch.nn.functional.pad(
        torch.nn.functional.interpolate(x, scale_factor=2), (1, 1, 1, 1)), 2)
    assert (counter.total().acs, counter.total().macs) == (3 * reach(moved, 3, 1), 0)
    flipped = Carried()
    with EnergyCounter(flipped) as counter:
        flipped(x)  # torch.flip makes a new map no carrier vouches for: the concatenation is real-valued
    assert counter.total().acs == 0 and counter.total().macs == 3 * 9 * 2 * 9


def test_dense_convolution_macs_are_outputs_times_kernel_volume():
    conv = nn.Conv2d(2, 4, 3, padding=1)
    with EnergyCounter(conv) as counter:
        conv(torch.randn(1, 2, 5, 5))  # 4*25 outputs x (2*9) weights
    assert counter.total().macs == 100 * 18


def test_linear_fed_spikes_counts_each_spike_times_out_features():
    lin = fed_spikes(nn.Linear(5, 3))
    with EnergyCounter(lin) as counter:
        lin(torch.tensor([[1.0, 0, 1, 1, 0]]))
    assert counter.total().acs == 9


def test_transposed_convolution_fed_spikes_counts_exact_reach():
    deconv = fed_spikes(nn.ConvTranspose2d(1, 2, 2, stride=2))
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
