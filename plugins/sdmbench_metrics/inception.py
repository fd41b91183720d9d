"""The ``inception`` feature extractor: torch-fidelity's InceptionV3 (the
TF-FID weights, 2048-d pool features), the standard FID.

torch-fidelity downloads ``weights-inception-2015-12-05-6726825d.pth`` when a
network exists; ``--inception-weights PATH`` gives the file offline. The
extractor's version is the SHA-256 of the weights file. torch-fidelity reads
that file with ``torch.load(weights_only=False)``, which would run code a
pickle asks for; so sdmbench reads it first with ``weights_only=True`` and
refuses a file that is more than tensors, before torch-fidelity sees it.
"""
from __future__ import annotations

from pathlib import Path

import torch

from sdmbench.data import ImageData
from sdmbench.errors import UsageError
from sdmbench.scoring.extractor import FeatureExtractor

from .pinned import file_hash

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def _only_tensors(path: Path) -> None:
    """Refuse a weights file that needs more than tensors to load (a pickle that runs code)."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"--inception-weights {path}: not a plain file of tensors "
                         f"({str(exc).splitlines()[0][:100]}); nothing in it was run") from None


class InceptionExtractor(FeatureExtractor):
    name = "inception"
    dim = 2048

    def __init__(self, weights: str | None = None, device="cpu"):
        import torch_fidelity

        if weights is not None and not Path(weights).is_file():
            raise UsageError(f"--inception-weights {weights}: no such file")
        if weights is not None:
            _only_tensors(Path(weights))
        try:
            self.net = torch_fidelity.FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048"], feature_extractor_weights_path=weights).to(device).eval()
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(
                f"Inception FID weights unavailable ({type(exc).__name__}: {str(exc)[:80]}); download "
                f"{WEIGHTS_FILE} (torch-fidelity's release) and pass --inception-weights PATH, "
                "or use --extractor classifier") from None
        path = Path(weights) if weights else Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
        self.version = file_hash(path)[:16] if path.is_file() else "6726825d"
        self.device = device

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return self.net(images.to(self.device))[0]


def make_inception(data: ImageData, *, device="cpu", inception_weights=None, **options) -> InceptionExtractor:
    return InceptionExtractor(inception_weights, device)
