"""Neurons: exact trajectories by hand, surrogate gradients against finite
differences, and the neuron contract for every registered neuron."""
import math

import pytest
import torch

from conftest import run_python

from sdmbench.plugin_api import loader as plugins
from sdmbench.plugin_api.testing import check_neuron
from sdmbench_neurons.integrate_fire import IFNeuron, if_step
from sdmbench_neurons.lif import LIFNeuron, ParametricLIFNeuron
from sdmbench_neurons.surrogate import SMOOTH, SURROGATES, spike


def column(values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1)


def test_if_trajectory_by_hand():
    # U = V + I: 0.6 | 1.2 -> fire, reset to 0 | 0.6 | 1.2 -> fire
    assert IFNeuron(4)(column([0.6, 0.6, 0.6, 0.6])).flatten().tolist() == [0, 1, 0, 1]
    # a current of exactly v_th fires at once (H(0) = 1)
    assert IFNeuron(3)(column([1.0, 0.0, 0.0])).flatten().tolist() == [1, 0, 0]


def test_if_step_resets_membrane_to_zero_and_keeps_subthreshold_charge():
    s, v = if_step(torch.tensor([0.4, 1.5]), torch.tensor([0.5, 0.0]))
    assert s.tolist() == [0.0, 1.0]
    assert torch.allclose(v, torch.tensor([0.9, 0.0]))


def test_if_threshold_changes_firing():
    x = column([0.55, 0.55, 0.55, 0.55])  # U = 0.55, 1.1, ...
    assert IFNeuron(4, v_th=1.0)(x).flatten().tolist() == [0, 1, 0, 1]
    assert IFNeuron(4, v_th=1.2)(x).flatten().tolist() == [0, 0, 1, 0]  # U = 0.55, 1.1, 1.65


def test_lif_trajectory_by_hand():
    # tau = 2: U = V + (I - V)/2; I = 1.5: 0.75 | 1.125 -> fire | 0.75 | 1.125 -> fire
    assert LIFNeuron(4, tau=2.0)(column([1.5] * 4)).flatten().tolist() == [0, 1, 0, 1]
    # I = 1.0 never reaches v_th = 1: 0.5, 0.75, 0.875, 0.9375
    assert LIFNeuron(4, tau=2.0)(column([1.0] * 4)).sum().item() == 0


def test_the_plugins_load_without_norse_until_a_lif_neuron_first_runs():
    """Importing norse pulls in matplotlib and TensorBoard and warns about ``torch.jit.script``: every
    command starts without it (the contract probe builds a ``lif`` neuron, which does not need it), and the
    first forward pass imports it, silently, and gives the trajectory computed by hand above."""
    code = ("import sys, torch; from sdmbench.plugin_api import loader; n = loader.get().neuron.get('lif')(4, v_th=1.0); "
            "print('norse' in sys.modules, 'matplotlib' in sys.modules); "
            "print(n(torch.full((4, 1), 1.5)).flatten().tolist(), 'norse' in sys.modules)")
    done = run_python(code, env={"PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False False", "[0.0, 1.0, 0.0, 1.0] True"]
    assert "jit" not in done.stderr, done.stderr


def test_plif_starts_as_lif_and_learns_its_leak():
    """tau = 3: w = -ln 2, 1/tau = sigmoid(-ln 2) = 1/3. I = 1.5: U = 0.5, 0.5 + (1.5 - 0.5)/3 = 0.833,
    0.833 + 0.667/3 = 1.056 -> fire, then 0.5 again."""
    assert ParametricLIFNeuron(4, tau=3.0)(column([1.5] * 4)).flatten().tolist() == [0, 0, 1, 0]
    x = torch.rand(4, 3, 5) * 3
    neuron = ParametricLIFNeuron(4, tau=2.0)
    assert torch.equal(neuron(x), LIFNeuron(4, tau=2.0)(x))
    neuron(x.requires_grad_()).sum().backward()
    assert neuron.w.grad is not None and neuron.w.grad.item() != 0


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_gradient_matches_finite_difference_of_its_smooth_function(name):
    x = torch.linspace(-1.5, 1.5, 31, dtype=torch.float64).requires_grad_()
    alpha, h = 2.0, 1e-6
    spike(x, name, alpha).sum().backward()
    fd = (SMOOTH[name](x.detach() + h, alpha) - SMOOTH[name](x.detach() - h, alpha)) / (2 * h)
    assert torch.allclose(x.grad, fd, atol=1e-6)


def test_atan_surrogate_peak_is_alpha_over_two():
    x = torch.zeros(1, requires_grad=True)
    spike(x, "atan", 2.0).sum().backward()
    assert math.isclose(x.grad.item(), 1.0)


@pytest.mark.parametrize("name", plugins.get().neuron.names())
def test_every_registered_neuron_honours_the_contract(name):
    check_neuron(plugins.get().neuron.get(name).factory, T=4)


def test_if_inference_path_equals_the_autograd_path():
    x = torch.randn(4, 8, 3, 5, 5) * 1.5
    neuron = IFNeuron(4, v_th=0.9)
    with torch.no_grad():
        fast = neuron(x)
    slow = neuron(x.clone().requires_grad_())
    assert torch.equal(fast, slow.detach())


@pytest.mark.parametrize("detach_reset", [False, True])
def test_fused_if_gradient_equals_autograd_through_the_step_function(detach_reset):
    torch.manual_seed(0)
    neuron = IFNeuron(5, detach_reset=detach_reset)
    x = (torch.randn(5, 3, 40) * 1.5).requires_grad_()
    weights = torch.randn(5, 3, 40)
    fused = neuron(x)
    (fused * weights).sum().backward()
    fused_grad, x.grad = x.grad.clone(), None
    stepwise = neuron.forward_stepwise(x)
    (stepwise * weights).sum().backward()
    assert torch.equal(fused, stepwise)
    assert torch.allclose(fused_grad, x.grad, atol=1e-6)
    assert fused_grad.abs().sum() > 0


def test_detach_reset_changes_only_the_gradient_through_the_reset():
    """One step above threshold then one below: with the reset detached,
    dS[1]/dI[0] loses exactly the term -U[0] s'(U[0] - v_th) s'(U[1] - v_th)."""
    x = torch.tensor([[1.2], [0.3]], dtype=torch.float64)
    grads = {}
    for detach in (False, True):
        xi = x.clone().requires_grad_()
        out = IFNeuron(2, detach_reset=detach)(xi)
        assert out.flatten().tolist() == [1.0, 0.0]
        out[1].sum().backward()
        grads[detach] = xi.grad[0].item()
    sg = lambda d: 1.0 / (1.0 + (math.pi * d) ** 2)  # atan surrogate, alpha 2
    u0, u1 = 1.2, 0.3  # U[1] = V[0] + I[1] = 0 + 0.3
    assert grads[True] == pytest.approx(0.0)  # (1 - S[0]) = 0: nothing passes a detached reset
    assert grads[False] == pytest.approx(-u0 * sg(u0 - 1.0) * sg(u1 - 1.0))
