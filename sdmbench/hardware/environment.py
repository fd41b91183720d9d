"""The run's environment, checked at start: a torchvision that belongs to the torch beside it.

pip can pair a CPU torch with a CUDA torchvision (or another release's),
when the index that had the matching pair is unreachable; the first run
then dies deep in data loading with ``operator torchvision::nms does not
exist``. :func:`check_torchvision` says so in one line first.
"""
from __future__ import annotations

import torch

from sdmbench.errors import UsageError

HOW = ("install a matching pair from one index, e.g. pip install --force-reinstall torch==X torchvision==Y "
       "--index-url https://download.pytorch.org/whl/cpu (the pairs: https://pytorch.org/get-started/previous-versions/)")


def check_torchvision() -> None:
    """Import torchvision and load one of its compiled operators; a mismatch is a one-line error."""
    try:
        import torchvision
    except Exception as exc:  # ImportError, or a RuntimeError from its C extension
        raise UsageError(f"torchvision does not import beside torch {torch.__version__} "
                         f"({str(exc).splitlines()[0][:120]}); {HOW}") from None
    try:
        torch.ops.torchvision.nms
    except (AttributeError, RuntimeError) as exc:
        raise UsageError(f"torchvision {getattr(torchvision, '__version__', '?')} does not belong with torch "
                         f"{torch.__version__}: its compiled operators do not load ({str(exc).splitlines()[0][:80]}); "
                         f"{HOW}") from None
