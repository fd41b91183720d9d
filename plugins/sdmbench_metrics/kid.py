"""The ``kid`` metric: kernel inception distance (Binkowski et al. 2018),
torch-fidelity's ``kid_features_to_metric`` with a faster kernel.

``KID = MMD^2_unbiased(f_gen, f_ref)`` with the cubic polynomial kernel
``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets of
``subset_size`` features drawn from each side (torch-fidelity's fixed RNG
seed); its standard deviation over the subsets is reported beside it. The
estimator is unbiased at any N, which FID is not (Chong & Forsyth 2020).

:func:`kid` draws the same subsets from the same ``RandomState`` as
torch-fidelity and hands its kernel matrices to torch-fidelity's ``mmd2``;
what it does not take from torch-fidelity is the kernel, which there is
``B ** 3`` for ``B = X Y^T / d + 1``: NumPy's general power, two thirds of a
subset's time. Here it is ``B * B * B``, and where a subset is every
generated sample (``subset_size`` equal to their number, as in every
published protocol) ``K_XX`` is one matrix for all subsets, since a subset
is then a permutation and ``mmd2`` reads ``K_XX`` only through its sums
without the diagonal. Both change the result in its last bits only
(``tests/test_feature_metrics.py`` holds it to torch-fidelity's within
1e-12); ``benchmarks/kid_speed.py`` times it.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from sdmbench.scoring.columns import Column
from sdmbench.scoring.metric import Metric, Scores, ScoringContext

SUBSETS = 100
SUBSET_SIZE = 1000  # torch-fidelity's default; smaller when fewer samples are scored
RNG_SEED = 2020  # torch-fidelity's default


def subset_size(num_samples: int, reference_images: int) -> int:
    return min(SUBSET_SIZE, num_samples, reference_images)


class KID(Metric):
    name = "kid"
    higher_is_better = {"kid": False, "kid_std": False}
    columns = (Column("kid", "KID", digits=4, summary="KID {:.4g}", ratio="kid_ratio"),)

    def settings(self, num_samples, reference_images):
        return {"subset_size": subset_size(num_samples, reference_images), "subsets": SUBSETS,
                "kernel": "poly3", "rng_seed": RNG_SEED}

    def compute(self, ctx: ScoringContext):
        fake, real = ctx.features()
        mean, std = kid(fake.cpu().numpy(), real.cpu().numpy(), SUBSETS, subset_size(len(fake), len(real)),
                        RNG_SEED)
        return Scores({"kid": mean, "kid_std": std})


def poly3(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The cubic polynomial kernel matrix ``(x y^T / d + 1)^3`` (torch-fidelity's defaults: gamma = 1/d,
    coef0 = 1, degree 3), cubed by two products."""
    base = x @ y.T * (1.0 / x.shape[1]) + 1.0
    return base * base * base


def kid(fake: np.ndarray, real: np.ndarray, subsets: int, size: int, seed: int) -> Tuple[float, float]:
    """``(mean, std)`` over ``subsets`` subsets of the unbiased MMD^2 between ``size`` rows drawn without
    replacement from each side, drawn as torch-fidelity draws them (one ``RandomState(seed)``, fake first)."""
    from torch_fidelity.metric_kid import mmd2

    if min(len(fake), len(real)) < size:
        raise ValueError(f"KID subset size {size} is larger than the {min(len(fake), len(real))} features given")
    rng = np.random.RandomState(seed)
    every_fake = poly3(fake, fake) if size == len(fake) else None  # a subset of all is a permutation
    mmds = np.empty(subsets)
    for i in range(subsets):
        x = fake[rng.choice(len(fake), size, replace=False)]
        y = real[rng.choice(len(real), size, replace=False)]
        mmds[i] = mmd2(every_fake if every_fake is not None else poly3(x, x), poly3(x, y), poly3(y, y))
    return float(mmds.mean()), float(mmds.std())
