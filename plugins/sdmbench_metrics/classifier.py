"""Classifier feature extractors: small networks sdmbench trains itself.

Offline machines have no Inception weights, so features come from a network
trained once per dataset split, with a fixed seed, on its labels. Two
architectures give two independent ways of seeing (each its own extractor):

- ``classifier``: a 3-layer CNN with max pooling, 128-d features, seed 0;
- ``classifier-resnet``: a small pre-activation ResNet with BatchNorm,
  256-d features, seed 1, trained longer (another architecture, another
  initialisation, another order of batches).

Features are the penultimate layer. Trained weights are cached in
``<cache>/classifier/`` under a key made of the dataset's content hash, the
recipe and :data:`VERSION`; the extractor's ``version`` is the hash of the
weights themselves, so the protocol names exactly what the metrics saw.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from sdmbench.data import ImageData, cache_dir, resize
from sdmbench.errors import UsageError
from sdmbench.scoring.extractor import FeatureExtractor

from .resnet import TinyResNet

VERSION = "1"


class SmallCNN(nn.Module):
    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(128, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class Recipe:
    """How one classifier extractor is built and trained (Adam, fixed seed, random batches)."""

    name: str
    network: Callable[[int, int], nn.Module]  # (channels, classes) -> module with .body and .head
    dim: int
    steps: int
    batch_size: int
    lr: float
    seed: int

    def key(self) -> dict:
        """What the cache key covers (the first recipe's key keeps its original form)."""
        fields = dict(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.seed)
        return fields if self.name == "classifier" else dict(fields, network=self.name)


SMALL_CNN = Recipe("classifier", SmallCNN, 128, steps=400, batch_size=128, lr=2e-3, seed=0)
RESNET = Recipe("classifier-resnet", TinyResNet, 256, steps=600, batch_size=128, lr=2e-3, seed=1)


def _normalise(images: torch.Tensor, size: int) -> torch.Tensor:
    return resize(images, size).float().div(127.5).sub(1.0)


def weights_hash(state: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_classifier(data: ImageData, size: int, progress=None, recipe: Recipe = SMALL_CNN) -> nn.Module:
    """Train on ``data``'s labels: ``recipe.steps`` Adam steps from ``recipe.seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(recipe.seed)
        model = recipe.network(data.channels, data.num_classes)
        gen = torch.Generator().manual_seed(recipe.seed)
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        task = progress.add_task(f"train {recipe.name}", total=recipe.steps) if progress else None
        model.train()
        for _ in range(recipe.steps):
            idx = torch.randint(0, len(data), (recipe.batch_size,), generator=gen)
            loss = nn.functional.cross_entropy(model(_normalise(data.get(idx, data.native_size), size)),
                                               data.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if task is not None:
                progress.update(task, advance=1, description=f"train {recipe.name}  loss {loss.item():.3f}")
    return model.eval()


class ClassifierExtractor(FeatureExtractor):
    def __init__(self, recipe: Recipe, model: nn.Module, size: int, version: str, device="cpu"):
        self.name, self.dim = recipe.name, recipe.dim
        self.model, self.size, self.version, self.device = model.to(device), size, version, device

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.body(_normalise(images, self.size).to(self.device))


def _cached(data: ImageData, recipe: Recipe, size: int, progress) -> nn.Module:
    """The trained network, from the cache when it holds a readable copy, else trained and cached."""
    key = hashlib.sha256(json.dumps([data.content_hash, VERSION, recipe.key(), size]).encode()).hexdigest()[:20]
    prefix = "" if recipe.name == "classifier" else f"{recipe.name}-"
    path = cache_dir() / "classifier" / f"{prefix}{data.name}-{data.split}-{key}.pt"
    if path.is_file():
        try:
            model = recipe.network(data.channels, data.num_classes)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception:
            path.unlink(missing_ok=True)  # a corrupt cache entry is retrained
    model = train_classifier(data, size, progress, recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return model


def build(recipe: Recipe, data: ImageData, device="cpu", progress=None) -> ClassifierExtractor:
    if data.labels is None or not data.num_classes:
        raise UsageError(f"the {recipe.name} extractor needs class labels, and '{data.name}' has none; "
                         "use --extractor inception (with --inception-weights PATH offline)")
    size = min(data.native_size, 64)
    model = _cached(data, recipe, size, progress)
    return ClassifierExtractor(recipe, model, size, weights_hash(model.state_dict())[:16], device)


def make_classifier(data: ImageData, *, device="cpu", progress=None, **options) -> ClassifierExtractor:
    return build(SMALL_CNN, data, device, progress)


def make_resnet_classifier(data: ImageData, *, device="cpu", progress=None, **options) -> ClassifierExtractor:
    return build(RESNET, data, device, progress)
