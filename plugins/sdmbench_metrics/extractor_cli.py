"""``sdmbench extractor train DATASET``: train a classifier extractor's weights, on request only.

Held-out accuracy is measured on the dataset's test split when it has one
readable here, else on the last fifth of the only split (which the network
then does not train on). Without ``--pin`` the file goes to the local cache
and scoring uses it under a local version (a protocol of this machine
alone); ``--pin`` writes it into the package's ``weights/`` folder and
prints the SHA-256 line that :data:`.pinned.PINNED` needs (maintainers only).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import typer

from sdmbench.plugin_api.commands import group
from sdmbench.errors import UsageError

from . import classifier, pinned


def _splits(plugins, dataset: str, data_root: Optional[str]) -> Tuple[object, object, torch.Tensor, torch.Tensor]:
    """``(train data, held-out data, train rows, held-out rows)``."""
    factory = plugins.dataset.get(dataset)

    def split(name: str):
        try:
            return factory(data_root, name, None)
        except UsageError:
            return None

    train, test = split("train"), split("test")
    if train is None and test is None:
        factory(data_root, "train", None)  # its own one-line error: where to put the files
    if train is not None and test is not None and test.labels is not None:
        return train, test, torch.arange(len(train)), torch.arange(len(test))
    train = train if train is not None else test  # one split only (offline MNIST: its test split)
    cut = len(train) - len(train) // 5
    return train, train, torch.arange(cut), torch.arange(cut, len(train))


def train_weights(plugins, dataset: str, name: str, data_root: Optional[str] = None, pin: bool = False,
                  progress=None, log=print) -> dict:
    """Train, measure and save one extractor's weights; returns what was written."""
    from sdmbench.running.records import check_writable

    recipe = classifier.RECIPES[name]
    path = pinned.pinned_path(name, dataset) if pin else pinned.local_path(name, dataset)
    check_writable(path.parent, f"the {name} weights")
    train, held, rows, held_rows = _splits(plugins, dataset, data_root)
    if train.labels is None or not train.num_classes:
        raise UsageError(f"'{dataset}' has no class labels to train a classifier on; use --extractor inception")
    size = classifier.extractor_size(train)
    model = classifier.train_classifier(train, size, progress, recipe, rows=rows)
    acc = classifier.accuracy(model, held, size, held_rows)
    meta = dict(extractor=name, dataset=dataset, split=train.split, size=size, classes=train.num_classes,
                channels=train.channels, accuracy=round(acc, 4), train_rows=len(rows),
                held_out=f"{held.split} ({len(held_rows)} images)", data_hash=train.content_hash,
                recipe=dict(epochs=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed))
    digest = pinned.save(model.state_dict(), meta, path)
    log(f"{name} on {dataset}: held-out accuracy {acc:.2%} on {meta['held_out']}; wrote {path}")
    if pin:
        log(f'pin it in pinned.PINNED: ("{name}", "{dataset}"): "{digest}",')
    else:
        log(f"runs scored with it are under the local protocol {name}@{pinned.LOCAL_PREFIX}{digest[:8]}...: "
            "they are never ranked with the shipped extractors' runs")
    return dict(meta, path=str(path), sha256=digest)


def train_cmd(
    dataset: str = typer.Argument(..., help="a registered dataset with class labels"),
    extractor: str = typer.Option("all", help="classifier, classifier-resnet, or all"),
    data_root: Optional[str] = typer.Option(None, help="where the dataset's files are"),
    pin: bool = typer.Option(False, "--pin", help="write into the package (maintainers: then pin its hash)"),
):
    """Train a classifier extractor for DATASET (a local scoring protocol unless pinned)."""
    from sdmbench.plugin_api import loader as registry
    from sdmbench.cli.console import progress_bars

    plugins = registry.get()
    plugins.dataset.get(dataset)  # an unknown name is a one-line error before any work
    names = list(classifier.RECIPES) if extractor == "all" else [extractor]
    unknown = [n for n in names if n not in classifier.RECIPES]
    if unknown:
        raise UsageError(f"--extractor must be one of {', '.join(classifier.RECIPES)} or all, got '{unknown[0]}'")
    with progress_bars() as progress:
        for name in names:
            train_weights(plugins, dataset, name, data_root, pin, progress, log=progress.console.print)


def register(app: typer.Typer) -> None:
    group(app, "extractor").command("train")(train_cmd)
