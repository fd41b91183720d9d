"""The ``fid`` metric: Frechet distance between the generated samples' and the
reference split's features, through the protocol's feature extractor."""
from __future__ import annotations

from sdmbench.scoring.fid import fid_from_features
from sdmbench.scoring.columns import Column
from sdmbench.scoring.metric import Metric, Scores, ScoringContext


class FID(Metric):
    name = "fid"
    higher_is_better = {"fid": False}
    columns = (Column("fid", "FID", digits=2, summary="FID {:.2f}", headline=True, ratio="fid_ratio", ranks=True),)

    def compute(self, ctx: ScoringContext):
        fake, real = ctx.features()
        return Scores({"fid": fid_from_features(fake, real)})
