"""Helpers and pytest fixtures for plugin authors (loaded by pytest through
the ``pytest11`` entry point, so they are there in any test suite of an
environment where sdmbench is installed). They need no built-in plugin.

- :func:`check_neuron` asserts the neuron contract on a factory: shape,
  0/1 output, a surrogate gradient that reaches the input, no state across
  calls, and a forward/backward pass through a tiny spiking network.
- :func:`check_dataset` asserts the dataset contract: an
  :class:`~sdmbench.plugin_api.data.ImageData` whose fields agree with its images, resized
  batches, labels in range, and a one-line error for a split it lacks.
- :func:`check_metric` asserts the metric contract on a small scoring context.
- :func:`load_plugins` builds registries from plugin modules given directly,
  without installing them.
- Fixtures: ``sdmbench_plugins`` (the installed plugins, freshly discovered)
  and ``sdmbench_tiny_network`` (a builder of tiny spiking networks).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import pytest
import torch
from torch import nn

TINY_T = 2


def load_plugins(*modules: Any, entry_points: bool = True):
    """Registries filled by the installed plugins (``entry_points``) plus ``modules``."""
    from sdmbench.plugin_api import loader as plugins

    return plugins.build([(getattr(m, "__name__", repr(m)), m) for m in modules], entry_points=entry_points)


class TinySpikingNet(nn.Module):
    """``[B, 1, 8, 8] -> [B, 1, 8, 8]``: conv, neuron, conv, neuron, conv, mean
    over T time steps (the layout every spiking backbone uses: ``[T, B, ...]``
    between layers, folded to ``[T*B, ...]`` for convolutions)."""

    def __init__(self, make_neuron: Callable[[], nn.Module], T: int = TINY_T, ch: int = 8):
        super().__init__()
        self.T = T
        self.convs = nn.ModuleList([nn.Conv2d(1, ch, 3, padding=1), nn.Conv2d(ch, ch, 3, padding=1),
                                    nn.Conv2d(ch, 1, 3, padding=1)])
        self.neurons = nn.ModuleList([make_neuron(), make_neuron()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from sdmbench.plugin_api.neuron import fold, unfold

        h = x.unsqueeze(0).expand(self.T, *x.shape)
        for conv, neuron in zip(self.convs, self.neurons):
            h = neuron(unfold(conv(fold(h)), self.T))
        return unfold(self.convs[-1](fold(h)), self.T).mean(0)


def check_neuron(factory: Callable[..., Any], T: int = 4, v_th: float = 1.0, **params: Any) -> None:
    """Assert the neuron contract (:class:`sdmbench.plugin_api.contracts.Neuron`) on ``factory``."""
    from sdmbench.plugin_api.neuron import neuron_maker

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
    check_in_network(factory, **params)


def check_in_network(factory: Callable[..., Any], **params: Any) -> None:
    """Forward and backward through a :class:`TinySpikingNet` of ``factory``'s neurons."""
    from sdmbench.plugin_api.neuron import neuron_maker

    torch.manual_seed(0)
    net = TinySpikingNet(neuron_maker(factory, TINY_T, 1.0, params))
    y = net(torch.randn(2, 1, 8, 8) * 3)
    assert y.shape == (2, 1, 8, 8)
    y.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad), "some parameter got no gradient"


def check_dataset(factory: Callable[..., Any], root: Optional[str] = None, split: str = "train") -> None:
    """Assert the dataset contract on ``factory(root, split, image_size)``."""
    from sdmbench.plugin_api.data import ImageData
    from sdmbench.errors import UsageError

    data = factory(root, split, None)
    assert isinstance(data, ImageData), f"a dataset factory returns ImageData, got {type(data).__name__}"
    assert data.split == split and data.name and data.length == len(data) > 0
    assert data.channels in (1, 3) and data.image_size >= 4 and data.native_size >= 4
    assert (data.images is None) != (data.item is None), "set exactly one of images and item"
    if data.images is not None:
        assert data.images.dtype == torch.uint8 and tuple(data.images.shape[1:]) == (
            data.channels, data.native_size, data.native_size), "images are uint8 [N, C, native, native]"
        assert len(data.images) == data.length
    batch = data.get([0, data.length - 1])
    assert batch.dtype == torch.uint8 and tuple(batch.shape) == (2, data.channels, data.image_size, data.image_size)
    assert tuple(factory(root, split, 8).get([0]).shape) == (1, data.channels, 8, 8), "image_size is not honoured"
    unit = data.random_batch(4, torch.Generator().manual_seed(0))
    assert unit.dtype == torch.float32 and -1 <= float(unit.min()) and float(unit.max()) <= 1
    if data.labels is not None:
        assert len(data.labels) == data.length and data.num_classes
        assert 0 <= int(data.labels.min()) and int(data.labels.max()) < data.num_classes
    assert isinstance(data.content_hash, str) and len(data.content_hash) >= 16, "content_hash identifies the data"
    with pytest.raises(UsageError):
        factory(root, "no-such-split", None)


class PixelFeatures:
    """A stand-in feature extractor for tests: the flattened pixels, as float64."""

    name, version = "pixels", "1"

    def __call__(self, images: torch.Tensor, batch_size: int = 500, on_batch=None) -> torch.Tensor:
        return images.flatten(1).double()


def check_metric(factory: Callable[..., Any], n: int = 16) -> dict:
    """Assert the metric contract on ``factory()`` over ``n`` random 8x8 samples
    and reference images (features: the pixels); return its values."""
    from sdmbench.plugin_api.data import ImageData, content_hash
    from sdmbench.scoring.metric import Scores, ScoringContext
    from sdmbench.running.sampling import observed_sampling

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=gen, dtype=torch.uint8)
    data = ImageData(name="random", split="train", channels=1, native_size=8, image_size=8, length=n,
                     content_hash=content_hash(images), source="sdmbench.plugin_api.testing", images=images)
    metric = factory()
    with metric.observe(nn.Identity()):
        pass
    samples = torch.randint(0, 256, (n, 1, 8, 8), generator=gen, dtype=torch.uint8)
    ctx = ScoringContext(samples=samples, data=data, extractor=PixelFeatures(),
                         sampling=observed_sampling([n], 1),
                         protocol={"num_samples": n, "reference_images": n, "image_size": 8})
    scores = Scores.of(metric.compute(ctx))
    assert scores.values, "a metric computes at least one value"
    for key, value in scores.values.items():
        assert value is None or isinstance(value, (int, float)), f"value {key} is not a number"
    return scores.values


@pytest.fixture
def sdmbench_plugins():
    """The installed plugins, discovered afresh for this test."""
    from sdmbench.plugin_api import loader as plugins

    plugins.reset()
    yield plugins.get()
    plugins.reset()


@pytest.fixture
def sdmbench_tiny_network():
    """``build(neuron_factory, **params) -> TinySpikingNet`` (8x8 images, T = 2)."""
    from sdmbench.plugin_api.neuron import neuron_maker

    def build(factory, **params):
        return TinySpikingNet(neuron_maker(factory, TINY_T, 1.0, params))

    return build
