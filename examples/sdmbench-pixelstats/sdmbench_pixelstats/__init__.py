"""``pixel-stats``: how far the generated images' pixel statistics are from the data's.

With pixels ``x`` in [0, 1] (uint8 / 255), over every pixel of the generated
samples ``g`` and of the protocol's reference images ``r``::

    pixel_mean_gap = | mean(g) - mean(r) |
    pixel_std_gap  = | std(g)  - std(r)  |      (population standard deviations)
"""
from __future__ import annotations

import sdmbench
from sdmbench.scoring import Column, Metric, Scores, ScoringContext


class PixelStats(Metric):
    name = "pixel-stats"
    higher_is_better = {"pixel_mean_gap": False, "pixel_std_gap": False}
    #: shown on the board, the site and a run's closing line, after the built-in scores
    columns = (Column("pixel_mean_gap", "mean gap", digits=4, summary="pixel mean gap {:.4f}"),
               Column("pixel_std_gap", "std gap", digits=4, summary="pixel std gap {:.4f}"))
    needs_features = False  # pixels, not features: no extractor is built for it

    def compute(self, ctx: ScoringContext) -> Scores:
        p = ctx.protocol
        reference = ctx.data.first(p["reference_images"], size=p["image_size"]).double() / 255
        generated = ctx.samples.double() / 255
        stats = {"generated_mean": generated.mean().item(), "generated_std": generated.std(correction=0).item(),
                 "reference_mean": reference.mean().item(), "reference_std": reference.std(correction=0).item()}
        return Scores({"pixel_mean_gap": abs(stats["generated_mean"] - stats["reference_mean"]),
                       "pixel_std_gap": abs(stats["generated_std"] - stats["reference_std"])}, stats)


@sdmbench.hookimpl
def sdmbench_register_metrics(registry):
    registry.add("pixel-stats", PixelStats, description="gaps between generated and reference pixel mean and std")
