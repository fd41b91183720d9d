"""The ``classifier`` feature extractor: a small CNN sdmbench trains itself.

Offline machines have no Inception weights, so FID looks through a CNN
trained once per dataset split with a fixed seed on its labels. Features are
the 128-d penultimate layer. The trained weights are cached in
``<cache>/classifier/`` under a key made of the dataset's content hash, the
training recipe and :data:`VERSION`; the extractor's ``version`` is the hash
of the weights themselves, so the protocol names exactly what FID saw.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch
from torch import nn

from sdmbench.data import ImageData, cache_dir, resize
from sdmbench.errors import UsageError
from sdmbench.scoring.extractor import FeatureExtractor

VERSION = "1"
RECIPE = dict(steps=400, batch_size=128, lr=2e-3, seed=0)


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


def _normalise(images: torch.Tensor, size: int) -> torch.Tensor:
    return resize(images, size).float().div(127.5).sub(1.0)


def weights_hash(state: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_classifier(data: ImageData, size: int, progress=None) -> SmallCNN:
    """Train on ``data``'s labels: ``RECIPE['steps']`` Adam steps, fixed seed."""
    with torch.random.fork_rng():
        torch.manual_seed(RECIPE["seed"])
        model = SmallCNN(data.channels, data.num_classes)
        gen = torch.Generator().manual_seed(RECIPE["seed"])
        opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
        task = progress.add_task("train FID classifier", total=RECIPE["steps"]) if progress else None
        for _ in range(RECIPE["steps"]):
            idx = torch.randint(0, len(data), (RECIPE["batch_size"],), generator=gen)
            loss = nn.functional.cross_entropy(model(_normalise(data.get(idx, data.native_size), size)),
                                               data.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if task is not None:
                progress.update(task, advance=1, description=f"train FID classifier  loss {loss.item():.3f}")
    return model.eval()


class ClassifierExtractor(FeatureExtractor):
    name = "classifier"
    dim = 128

    def __init__(self, model: SmallCNN, size: int, version: str, device="cpu"):
        self.model, self.size, self.version, self.device = model.to(device), size, version, device

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.body(_normalise(images, self.size).to(self.device))


def make_classifier(data: ImageData, *, device="cpu", progress=None, **options) -> ClassifierExtractor:
    if data.labels is None or not data.num_classes:
        raise UsageError(f"the classifier extractor needs class labels, and '{data.name}' has none; "
                         "use --extractor inception (with --inception-weights PATH offline)")
    size = min(data.native_size, 64)
    key = hashlib.sha256(json.dumps([data.content_hash, VERSION, RECIPE, size]).encode()).hexdigest()[:20]
    path = cache_dir() / "classifier" / f"{data.name}-{data.split}-{key}.pt"
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = SmallCNN(data.channels, data.num_classes)
            model.load_state_dict(state)
        except Exception:
            path.unlink(missing_ok=True)  # a corrupt cache entry is retrained
            return make_classifier(data, device=device, progress=progress, **options)
    else:
        model = train_classifier(data, size, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)
    return ClassifierExtractor(model.eval(), size, weights_hash(model.state_dict())[:16], device)
