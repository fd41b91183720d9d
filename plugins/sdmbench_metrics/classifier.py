"""Classifier feature extractors: small networks trained once per dataset, shipped pinned.

Offline machines have no Inception weights, so features come from a network
trained on the dataset's labels. Two architectures give two independent ways
of seeing (each its own extractor):

- ``classifier``: a 3-layer CNN with max pooling, its last maps averaged to 3 x 3
  (global pooling held it at 88% on Fashion-MNIST), 128-d features, seed 0;
- ``classifier-resnet``: a small pre-activation ResNet with BatchNorm,
  256-d features, seed 1 (another architecture, initialisation and batch order).

Features are the penultimate layer. Training (:func:`train_classifier`:
Adam, a half-cosine learning rate, random 2-pixel shifts and horizontal
flips, whole epochs) happens only on request, ``sdmbench extractor train``;
scoring loads weights through :mod:`.pinned` (shipped files checked by
SHA-256, else local ones) and never trains.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from sdmbench.plugin_api.data import ImageData, resize
from sdmbench.errors import UsageError
from sdmbench.scoring.extractor import FeatureExtractor

from . import pinned
from .resnet import TinyResNet


class SmallCNN(nn.Module):
    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(3), nn.Flatten(),
            nn.Linear(128 * 9, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class Recipe:
    """How one classifier extractor is built and trained."""

    name: str
    network: Callable[[int, int], nn.Module]  # (channels, classes) -> module with .body and .head
    dim: int
    epochs: int
    batch_size: int
    lr: float
    seed: int


SMALL_CNN = Recipe("classifier", SmallCNN, 128, epochs=12, batch_size=128, lr=2e-3, seed=0)
RESNET = Recipe("classifier-resnet", TinyResNet, 256, epochs=8, batch_size=128, lr=2e-3, seed=1)
RECIPES = {r.name: r for r in (SMALL_CNN, RESNET)}


def _normalise(images: torch.Tensor, size: int) -> torch.Tensor:
    return resize(images, size).float().div(127.5).sub(1.0)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels (zero padding of the background, -1) and horizontal flips."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
    dy, dx = torch.randint(0, 5, (2,), generator=gen).tolist()
    x = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def train_classifier(data: ImageData, size: int, progress=None, recipe: Recipe = SMALL_CNN,
                     rows: Optional[torch.Tensor] = None) -> nn.Module:
    """``recipe.epochs`` passes over ``data``'s ``rows`` (default: all), shuffled from ``recipe.seed``;
    the learning rate falls from ``recipe.lr`` to 0 along a half cosine."""
    rows = torch.arange(len(data)) if rows is None else rows
    per_epoch = max(1, len(rows) // recipe.batch_size)
    total = recipe.epochs * per_epoch
    with torch.random.fork_rng():
        torch.manual_seed(recipe.seed)
        model = recipe.network(data.channels, data.num_classes)
        gen = torch.Generator().manual_seed(recipe.seed)
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
        task = progress.add_task(f"train {recipe.name}", total=total) if progress else None
        model.train()
        for _ in range(recipe.epochs):
            order = rows[torch.randperm(len(rows), generator=gen)]
            for i in range(per_epoch):
                idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                x = _augment(_normalise(data.get(idx, data.native_size), size), gen)
                loss = nn.functional.cross_entropy(model(x), data.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if task is not None:
                    progress.update(task, advance=1, description=f"train {recipe.name}  loss {loss.item():.3f}")
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageData, size: int, rows: Optional[torch.Tensor] = None) -> float:
    """The share of ``data``'s ``rows`` (default: all) whose label is the model's top class."""
    rows = torch.arange(len(data)) if rows is None else rows
    correct = 0
    for chunk in rows.split(1000):
        logits = model(_normalise(data.get(chunk, data.native_size), size))
        correct += int((logits.argmax(1) == data.labels[chunk]).sum())
    return correct / max(1, len(rows))


class ClassifierExtractor(FeatureExtractor):
    """Features in float64: float32 convolutions round differently under each CPU's vector kernels, and
    the k-nearest-neighbour counts of precision and recall flip on such differences (0.2% of a set of
    1000 between ``ATEN_CPU_CAPABILITY=default`` and ``avx2`` for the ResNet in float32); in float64
    every CPU kind gives the same scores within 1e-4 (tests/test_scoring_portability.py)."""

    def __init__(self, recipe: Recipe, model: nn.Module, size: int, version: str, device="cpu"):
        self.name, self.dim = recipe.name, recipe.dim
        self.model, self.size, self.version, self.device = model.to(device), size, version, device
        self.reader = copy.deepcopy(model).to(device).double().eval()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        # resized in float64 and not rounded back to uint8: a rounding tie (x.5) falls either way on the
        # last bit of a vector kernel's sum, which flips pixels between CPU kinds
        return self.reader.body(resize(images.double(), self.size).to(self.device).div(127.5).sub(1.0))


def extractor_size(data: ImageData) -> int:
    """The resolution the classifier reads: the dataset's own, at most 64 pixels."""
    return min(data.native_size, 64)


def build(recipe: Recipe, data: ImageData, device="cpu", progress=None) -> ClassifierExtractor:
    """The extractor for ``data``, from its pinned (else local) weights; never trains."""
    if data.labels is None or not data.num_classes:
        raise UsageError(f"the {recipe.name} extractor needs class labels, and '{data.name}' has none; "
                         "use --extractor inception (with --inception-weights PATH offline)")
    state, meta, version = pinned.load(recipe.name, data.name)
    model = recipe.network(data.channels, data.num_classes)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise UsageError(f"the {recipe.name} weights for {data.name} do not fit its network "
                         f"({str(exc).splitlines()[0][:120]}); train them again with "
                         f"'sdmbench extractor train {data.name} --extractor {recipe.name}'") from None
    size = int(meta.get("size", extractor_size(data)))
    return ClassifierExtractor(recipe, model.eval(), size, version, device)


def make_classifier(data: ImageData, *, device="cpu", progress=None, **options) -> ClassifierExtractor:
    return build(SMALL_CNN, data, device, progress)


def make_resnet_classifier(data: ImageData, *, device="cpu", progress=None, **options) -> ClassifierExtractor:
    return build(RESNET, data, device, progress)
