"""How well each classifier feature extractor classifies held-out images.

    python studies/extractors/accuracy.py [--dataset fashion-mnist] [--extractors classifier,classifier-resnet]

Each extractor is trained (or loaded from the cache) on the train split, as
a run builds it, and its head classifies the whole test split. A feature
extractor that cannot tell the classes apart sees little of what makes
samples good or bad; two that both classify well but differ in
architecture and seed are two independent views for the protocol.
"""
from __future__ import annotations

import argparse

import torch


def accuracy(extractor, data, batch: int = 500) -> float:
    """The share of ``data`` whose label the extractor's head predicts from its features."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), batch):
            idx = torch.arange(start, min(start + batch, len(data)))
            logits = extractor.model.head(extractor.features(data.get(idx, data.native_size)))
            correct += int((logits.argmax(1) == data.labels[idx]).sum())
    return correct / len(data)


def main() -> None:
    from sdmbench.plugin_api import loader as loader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--extractors", default="classifier,classifier-resnet")
    args = parser.parse_args()
    plugins = loader.get()
    train = plugins.dataset.get(args.dataset)(None, "train", args.image_size)
    test = plugins.dataset.get(args.dataset)(None, "test", args.image_size)
    for name in args.extractors.split(","):
        extractor = plugins.extractor.get(name)(train, device="cpu")
        print(f"{name} ({extractor.version}, {extractor.dim}-d features): test accuracy "
              f"{accuracy(extractor, test):.4f} on {len(test)} {args.dataset} test images", flush=True)


if __name__ == "__main__":
    main()
