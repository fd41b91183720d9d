"""Block-wise matching of a converted SNN to its ANN (the fine-tuning objective).

For named blocks ``k`` present in both networks (the SNN is a converted copy,
so names agree) and the final output::

    loss(x_t, t) = mean over k of  mean( (mean_t SNN_k(x_t)[t] - ANN_k(x_t))^2 )

The SNN's block outputs are time-folded ``[T*B, ...]``; their mean over the T
steps (the rate) is compared with the ANN's block output. The ANN runs
without gradient; the SNN's gradient passes through its neurons' surrogate.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import nn
from torch.nn import functional as F


class BlockMatcher:
    """``matcher(x_t, t) -> loss`` over ``blocks``; ``close()`` removes its hooks."""

    def __init__(self, ann: nn.Module, snn: nn.Module, blocks: Sequence[str], T: int):
        self.ann, self.snn, self.T = ann, snn, int(T)
        self.blocks = list(blocks)
        self._ann: List[torch.Tensor] = []
        self._snn: List[torch.Tensor] = []
        ann_modules, snn_modules = dict(ann.named_modules()), dict(snn.named_modules())
        missing = [b for b in self.blocks if b not in ann_modules or b not in snn_modules]
        if missing:
            raise ValueError(f"blocks {missing[:3]} are not in both networks")
        self._hooks = [ann_modules[b].register_forward_hook(self._keep(self._ann)) for b in self.blocks]
        self._hooks += [snn_modules[b].register_forward_hook(self._keep(self._snn)) for b in self.blocks]

    @staticmethod
    def _keep(store: List[torch.Tensor]):
        return lambda module, inputs, output: store.append(output)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self._ann.clear()
        self._snn.clear()
        with torch.no_grad():
            out = self.ann(x_t, t)
        targets = [*self._ann, out]
        y = self.snn(x_t, t)
        rates = [o.view(self.T, len(x_t), *o.shape[1:]).mean(0) for o in self._snn] + [y]
        loss = torch.stack([F.mse_loss(r, a) for r, a in zip(rates, targets)]).mean()
        self._ann.clear()
        self._snn.clear()
        return loss

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
