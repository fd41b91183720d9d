"""The ``kid`` metric: kernel inception distance (Binkowski et al. 2018),
through torch-fidelity's ``kid_features_to_metric``.

``KID = MMD^2_unbiased(f_gen, f_ref)`` with the cubic polynomial kernel
``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets of
``subset_size`` features drawn from each side (torch-fidelity's fixed RNG
seed); its standard deviation over the subsets is reported beside it. The
estimator is unbiased at any N, which FID is not (Chong & Forsyth 2020).
"""
from __future__ import annotations

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
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        fake, real = ctx.features()
        size = subset_size(len(fake), len(real))
        out = kid_features_to_metric(fake, real, kid_subsets=SUBSETS, kid_subset_size=size,
                                     rng_seed=RNG_SEED, verbose=False)
        return Scores({"kid": out[KEY_METRIC_KID_MEAN], "kid_std": out[KEY_METRIC_KID_STD]})
