"""The ``inception`` feature extractor: torch-fidelity's InceptionV3 (the
TF-FID weights, 2048-d pool features), the standard FID.

torch-fidelity downloads ``weights-inception-2015-12-05-6726825d.pth`` when a
network exists; ``--set extractor.weights=PATH`` (formerly
``--inception-weights PATH``) gives the file offline. The
extractor's version is the SHA-256 of the weights file. torch-fidelity would
read that file with ``torch.load(weights_only=False)``, which runs code a
pickle asks for; so sdmbench reads it itself, once, with ``weights_only=True``
(a file that is more than tensors is refused) and hands torch-fidelity the
tensors: torch-fidelity never opens a file a user names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from sdmbench.plugin_api.data import ImageData
from sdmbench.errors import UsageError
from sdmbench.scoring.extractor import FeatureExtractor

from .pinned import file_hash

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def _read_tensors(path: Path) -> dict:
    """The state dict in ``path``, read with ``weights_only=True``: a pickle that asks for more than tensors
    is refused, and nothing in it runs."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"extractor.weights {path}: not a plain file of tensors "
                         f"({str(exc).splitlines()[0][:100]}); nothing in it was run") from None


def _network(state: Optional[dict]):
    """torch-fidelity's InceptionV3 with ``state`` as its weights (None: torch-fidelity's download).

    torch-fidelity takes weights as a path (read unsafely) or from its download; the tensors read above
    are handed to it through the download hook of its module, restored right after."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    if state is None:
        return tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    fetch = tfi.load_state_dict_from_url
    tfi.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        return tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        tfi.load_state_dict_from_url = fetch


class InceptionExtractor(FeatureExtractor):
    name = "inception"
    dim = 2048

    def __init__(self, weights: str | None = None, device="cpu"):
        if weights is not None and not Path(weights).is_file():
            raise UsageError(f"extractor.weights {weights}: no such file")
        state = _read_tensors(Path(weights)) if weights is not None else None
        try:
            self.net = _network(state).to(device).eval()
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(
                f"Inception FID weights unavailable ({type(exc).__name__}: {str(exc)[:80]}); download "
                f"{WEIGHTS_FILE} (torch-fidelity's release) and pass --set extractor.weights=PATH, "
                "or use --extractor classifier") from None
        path = Path(weights) if weights else Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
        self.version = file_hash(path)[:16] if path.is_file() else "6726825d"
        self.device = device

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return self.net(images.to(self.device))[0]


def make_inception(data: ImageData, *, device="cpu", weights=None, inception_weights=None,
                   **options) -> InceptionExtractor:
    """torch-fidelity's InceptionV3; ``weights`` (``--set extractor.weights=PATH``; ``inception_weights`` is
    its old name) gives the weights file offline."""
    return InceptionExtractor(weights or inception_weights, device)


def check_options(options: dict) -> None:
    """The run's extractor settings, checked before any work: ``weights``, an existing file."""
    unknown = sorted(set(options) - {"weights"})
    if unknown:
        raise ValueError(f"extractor 'inception' has no setting '{unknown[0]}'; its one setting is "
                         "extractor.weights=PATH")
    weights = options.get("weights")
    if weights is not None and not Path(weights).is_file():
        raise ValueError(f"--set extractor.weights={weights}: no such file; pass the path of torch-fidelity's "
                         f"weights file ({WEIGHTS_FILE})")


make_inception.check_options = check_options
