"""Where a classifier extractor's weights come from: pinned files, or local ones made on request.

The ruler must be the same on every machine, so the classifier extractors
are not trained where they score. Their weights are trained once
(``sdmbench extractor train DATASET --pin``), validated
(``studies/extractors/validate.py``) and shipped in this package as
safetensors files under ``weights/``, each named in :data:`PINNED` with the
SHA-256 of its bytes. Loading checks that hash; the extractor's version is
its first 16 hex digits, so a protocol names exactly the file it scored with.

A dataset without pinned weights needs ``sdmbench extractor train DATASET``:
it writes ``<cache>/extractors/<name>-<dataset>.safetensors`` and scoring
then uses it under a *local* version (``local-<hash>``), which never equals a
pinned one, so local protocols are never ranked with shipped ones. Scoring
never trains.

The contract of a weights file: safetensors (no pickle, no code), the
network's ``state_dict`` tensors, and metadata ``extractor``, ``dataset``,
``split``, ``size``, ``classes``, ``channels``, ``accuracy`` (held-out, as
measured when it was trained).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Tuple

import torch

from sdmbench.plugin_api.data import cache_dir
from sdmbench.errors import UsageError
from sdmbench.scoring.protocol import LOCAL_VERSION_PREFIX as LOCAL_PREFIX

WEIGHTS_DIR = Path(__file__).parent / "weights"

#: (extractor, dataset) -> SHA-256 of the shipped weights file ``weights/<extractor>-<dataset>.safetensors``
PINNED: Dict[Tuple[str, str], str] = {
    ("classifier", "fashion-mnist"): "3b4a6a5d68a4a4d7776a9210f2084e3a5d8ab62dd17a4ca6c2da0204a85f6947",
    ("classifier-resnet", "fashion-mnist"): "e498311242f64ebe7faa3ad8a273fa17fe9fad25dd7fe79794bc7c081a93bc24",
    ("classifier", "mnist"): "0503250f52af314dd1017e34132728c9f0116a76bc0c3b11e11bde69a549e7a4",
    ("classifier-resnet", "mnist"): "5546f93b87ae1aef2d40121e6add25d373602f0d4e957935bb386e7fbee6f76a",
}


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pinned_path(extractor: str, dataset: str) -> Path:
    return WEIGHTS_DIR / f"{extractor}-{dataset}.safetensors"


def local_path(extractor: str, dataset: str) -> Path:
    return cache_dir() / "extractors" / f"{extractor}-{dataset}.safetensors"


def read(path: Path, what: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """The tensors and metadata of a weights file; anything unreadable is a one-line error."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        raise UsageError(f"{what} {path} is not a readable safetensors file ({str(exc).splitlines()[0][:120]}); "
                         "reinstall sdmbench or train local weights with 'sdmbench extractor train'") from None


def load(extractor: str, dataset: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], str]:
    """``(state_dict, metadata, version)`` of the weights scoring uses for ``extractor`` on ``dataset``:
    the pinned file (its hash checked), else a local file, else a one-line error saying what to run."""
    expected = PINNED.get((extractor, dataset))
    if expected is not None:
        path = pinned_path(extractor, dataset)
        if not path.is_file():
            raise UsageError(f"the pinned {extractor} weights for {dataset} are missing ({path}); "
                             "reinstall sdmbench")
        actual = file_hash(path)
        if actual != expected:
            raise UsageError(f"the pinned {extractor} weights for {dataset} ({path}) have SHA-256 {actual[:16]}..., "
                             f"not the pinned {expected[:16]}...: the file is damaged or was changed; "
                             "reinstall sdmbench")
        state, meta = read(path, f"pinned {extractor} weights")
        return state, meta, expected[:16]
    path = local_path(extractor, dataset)
    if not path.is_file():
        raise UsageError(f"sdmbench ships no {extractor} weights for '{dataset}'; train local ones with "
                         f"'sdmbench extractor train {dataset} --extractor {extractor}' (a local protocol, "
                         "never ranked with shipped ones) or score with --extractor inception")
    state, meta = read(path, f"local {extractor} weights")
    return state, meta, LOCAL_PREFIX + file_hash(path)[:16]


def save(state: Dict[str, torch.Tensor], meta: Dict[str, object], path: Path) -> str:
    """Write a weights file atomically; return its SHA-256."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(tmp), metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    tmp.chmod(0o644)  # safetensors writes owner-only; a file that ships must be readable by every user
    tmp.replace(path)
    return file_hash(path)
