"""Vector quantiser with a straight-through estimator (van den Oord et al. 2017).

For features ``z: [B, D, H, W]`` and a codebook ``E: [K, D]``::

    k*(i) = argmin_k || z_i - e_k ||^2                 (nearest code)
    q_i   = e_{k*(i)}
    loss  = || q - sg(z) ||^2 + beta * || z - sg(q) ||^2   (codebook + commitment, means)
    out   = z + sg(q - z)                               (forward q, gradient to z unchanged)

``sg`` is stop-gradient. :func:`codebook_usage` gives the perplexity
``exp(-sum_k p_k log p_k)`` of the code frequencies and the count of codes
never used.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn
from torch.nn import functional as F


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int = 128, code_dim: int = 16, beta: float = 0.25):
        super().__init__()
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.codebook = nn.Embedding(num_codes, code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / num_codes, 1.0 / num_codes)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, D, H, W]`` -> code indices ``[B, H, W]``."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        e = self.codebook.weight
        distances = flat.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * flat @ e.t()
        return distances.argmin(1).view(z.shape[0], *z.shape[2:])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices ``[B, H, W]`` -> code vectors ``[B, D, H, W]``."""
        return self.codebook(indices).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(straight-through q, indices, codebook + beta * commitment loss)``."""
        indices = self.nearest(z)
        q = self.lookup(indices)
        loss = F.mse_loss(q, z.detach()) + self.beta * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), indices, loss


def codebook_usage(indices: torch.Tensor, num_codes: int) -> Tuple[float, int]:
    """``(perplexity, dead codes)`` of a set of code indices."""
    counts = torch.bincount(indices.flatten(), minlength=num_codes).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float(entropy.exp()), int((counts == 0).sum())
