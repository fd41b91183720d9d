"""The ``prc`` metric: improved precision and recall (Kynkaanniemi et al.
2019), through torch-fidelity's ``prc_features_to_metric``.

Each feature set spans a manifold: the union of balls around its points,
each of radius the distance to its k-th nearest neighbour (k =
``neighbourhood``). Precision is the fraction of generated samples inside
the reference manifold (fidelity), recall the fraction of reference images
inside the generated one (diversity). Both sets hold the same number of
points (the first N reference features), as in the paper: k-NN radii
shrink as a set grows, so unequal sizes would bias recall.
"""
from __future__ import annotations

from sdmbench.scoring.columns import Column
from sdmbench.scoring.metric import Metric, Scores, ScoringContext

NEIGHBOURHOOD = 3  # the paper's and torch-fidelity's k


class PrecisionRecall(Metric):
    name = "prc"
    higher_is_better = {"precision": True, "recall": True}
    columns = (Column("precision", "precision", lower_is_better=False, summary="precision {:.3f}"),
               Column("recall", "recall", lower_is_better=False, summary="recall {:.3f}"))

    def settings(self, num_samples, reference_images):
        return {"neighbourhood": NEIGHBOURHOOD, "reference_images": min(num_samples, reference_images)}

    def compute(self, ctx: ScoringContext):
        from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

        fake, real = ctx.features()
        n = min(len(fake), len(real))
        out = prc_features_to_metric(fake[:n].float(), real[:n].float(), prc_neighborhood=NEIGHBOURHOOD,
                                     prc_batch_size=10000, save_cpu_ram=False, verbose=False)
        return Scores({"precision": out[KEY_METRIC_PRECISION], "recall": out[KEY_METRIC_RECALL]})
