"""The ``energy`` metric: an :class:`~sdmbench.energy.EnergyCounter` observes
every batch of the real sampling pass; every registered energy model prices
the counts (per image), and the default model's energy is the record's
``energy_per_image_mj``.

Values: energy per image and per denoising step (mJ, default model), MACs,
synaptic accumulates (``sops_per_image``), elementwise operations and memory
accesses per image, mean firing rate (the mean over neuron layers), and the
standard deviation across sampling batches of the energy per image.
Details: every model's energy (total, compute, memory; its source), the
per-image counts, the per-layer counts, every neuron layer's firing rate,
the per-step accumulates, MACs and firing rate, and how many images and
batches were observed."""
from __future__ import annotations

import statistics

from sdmbench.energy import EnergyCounter, price_all
from sdmbench.energy.counter import COUNTING
from sdmbench.energy.counts import ACCESSES, per_image
from sdmbench.energy.details import NAME, VALUE, write
from sdmbench.energy.model import registered_models
from sdmbench.scoring.columns import Column
from sdmbench.scoring.metric import Metric, Scores, ScoringContext


class Energy(Metric):
    name = NAME
    higher_is_better = {VALUE: False, "energy_per_step_mj": False}
    columns = (Column(VALUE, "mJ/image", digits=4, name="energy_mj_per_image", label="energy", summary="energy {:.4f} mJ/image",
                      headline=True, ratio="energy_ratio", of_the_run=True),
               Column("mean_firing_rate", "firing rate", lower_is_better=None, summary="mean firing rate {:.3f}",
                      of_the_run=True))
    needs_features = False

    def __init__(self):
        self.counter = None

    def observe(self, backbone):
        if self.counter is None or self.counter.model is not backbone:
            self.counter = EnergyCounter(backbone)
        return self.counter

    def observations(self):
        return None if self.counter is None else self.counter.observations()

    def merge(self, others):
        for observations in filter(None, others):
            self.counter.absorb(observations)

    def compute(self, ctx: ScoringContext):
        if self.counter is None or not self.counter.layers:
            return Scores()
        models, default = registered_models(ctx.sampling.get("plugins"))
        images, steps = ctx.sampling["observed_images"], ctx.sampling["steps"]
        layers = per_image(self.counter.layers, images)
        energies = price_all(layers, models)
        for name, model in models.items():
            energies[name]["source"] = getattr(model, "source", "")
        total = self.counter.total().scaled(1 / images)
        rates = self.counter.firing_rates()
        mj = energies[default][VALUE] if default else None
        values = {
            VALUE: mj,
            "energy_per_step_mj": mj / steps if mj is not None else None,
            "energy_batch_sd_mj": self._batch_sd(models.get(default), ctx.sampling.get("batch_images")),
            "macs_per_image": total.macs,
            "sops_per_image": total.acs,
            "elementwise_ops_per_image": total.elementwise + total.adds,
            "memory_accesses_per_image": sum(getattr(total, a) for a in ACCESSES),
            "mean_firing_rate": (sum(rates.values()) / len(rates)) if rates else None,
        }
        details = write(counting=COUNTING, energy_model=default, models=energies,
                        layers={n: layer.as_dict(images) for n, layer in self.counter.layers.items()},
                        firing_rates=rates, observed_images=images, counts=total.as_dict(), steps=steps,
                        per_step=self._per_step(images), batches=len(self.counter.batches))
        return Scores(values, details)

    def _per_step(self, images: int) -> dict:
        steps = self.counter.steps
        return {"acs_per_image": [s["acs"] / images for s in steps],
                "macs_per_image": [s["macs"] / images for s in steps],
                "firing_rate": [s["spikes"] / s["neurons"] if s["neurons"] else None for s in steps]}

    def _batch_sd(self, model, sizes):
        """Standard deviation across batches of the default model's energy per image (None for one batch)."""
        batches = self.counter.batches
        if model is None or not sizes or len(sizes) != len(batches) or len(batches) < 2:
            return None
        per_batch = []
        for counts, n in zip(batches, sizes):
            layers = {name: self.counter.layers[name].with_counts(c.scaled(1 / n)) for name, c in counts.items()}
            per_batch.append(model.price(layers).total_j * 1e3)
        return statistics.stdev(per_batch)
