"""Helpers and pytest fixtures for plugin authors (loaded by pytest through
the ``pytest11`` entry point, so they are there in any test suite of an
environment where sdmbench is installed).

- :func:`check_neuron` asserts the neuron contract on a factory: shape,
  0/1 output, a surrogate gradient that reaches the input, no state across
  calls, and a forward/backward pass through a tiny ``sdm-unet``.
- :func:`load_plugins` builds registries from plugin modules given directly,
  without installing them.
- Fixtures: ``sdmbench_plugins`` (the installed plugins, freshly discovered)
  and ``sdmbench_tiny_unet`` (a builder of tiny spiking U-Nets).
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

TINY_UNET = dict(T=2, img_ch=1, img_size=8, ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)


def load_plugins(*modules: Any, entry_points: bool = True):
    """Registries filled by the installed plugins (``entry_points``) plus ``modules``."""
    from sdmbench import plugins

    return plugins.build([(getattr(m, "__name__", repr(m)), m) for m in modules], entry_points=entry_points)


def check_neuron(factory: Callable[..., Any], T: int = 4, v_th: float = 1.0, **params: Any) -> None:
    """Assert the neuron contract of the hookspecs on ``factory``."""
    import torch

    from sdmbench.neuron import neuron_maker

    torch.manual_seed(0)
    module = neuron_maker(factory, T, v_th, params)()
    x = (torch.randn(T, 3, 4, 5, 5) * 2).requires_grad_()
    s = module(x)
    assert s.shape == x.shape, f"spikes have shape {tuple(s.shape)}, input {tuple(x.shape)}"
    assert bool(((s == 0) | (s == 1)).all()), "a neuron must emit 0/1 spikes"
    assert 0 < float(s.detach().mean()) < 1, "with strong random input some, not all, neurons must fire"
    s.sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0), "no surrogate gradient reaches the input"
    with torch.no_grad():
        assert torch.equal(module(x), module(x)), "the neuron keeps state between calls"
    # stronger input never means fewer spikes in total, for an integrator with positive threshold
    with torch.no_grad():
        assert module(x.detach() + 1).sum() >= module(x.detach()).sum()
    check_in_unet(factory, **params)


def check_in_unet(factory: Callable[..., Any], **params: Any) -> None:
    """Forward and backward through a tiny sdm-unet built with ``factory``."""
    import torch

    from sdmbench.neuron import neuron_maker
    from sdmbench_sdm.unet import SpikingUNet

    torch.manual_seed(0)
    net = SpikingUNet(neuron_maker(factory, TINY_UNET["T"], 1.0, params), **TINY_UNET)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 500])
    y = net(x, t)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad), "some parameter got no gradient"


@pytest.fixture
def sdmbench_plugins():
    """The installed plugins, discovered afresh for this test."""
    from sdmbench import plugins

    plugins.reset()
    yield plugins.get()
    plugins.reset()


@pytest.fixture
def sdmbench_tiny_unet():
    """``build(neuron_factory, **params) -> SpikingUNet`` at 8x8 with T = 2."""
    from sdmbench.neuron import neuron_maker
    from sdmbench_sdm.unet import SpikingUNet

    def build(factory, **params):
        return SpikingUNet(neuron_maker(factory, TINY_UNET["T"], 1.0, params), **TINY_UNET)

    return build
