"""The ``fid`` metric: Frechet distance between the generated samples' and the
reference split's features, through the protocol's feature extractor."""
from __future__ import annotations

from sdmbench.scoring.fid import fid_from_features
from sdmbench.scoring.metric import Metric, Scores, ScoringContext


class FID(Metric):
    name = "fid"
    higher_is_better = {"fid": False}

    def compute(self, ctx: ScoringContext):
        p = ctx.protocol
        reference = ctx.data.first(p["reference_images"], size=p["image_size"])
        task = ctx.progress.add_task("FID features", total=len(reference) + len(ctx.samples)) \
            if ctx.progress else None
        advance = (lambda n: ctx.progress.update(task, advance=n)) if task is not None else None
        real = ctx.extractor(reference, on_batch=advance)
        fake = ctx.extractor(ctx.samples, on_batch=advance)
        return Scores({"fid": fid_from_features(fake, real)})
