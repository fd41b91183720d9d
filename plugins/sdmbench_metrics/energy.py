"""The ``energy`` metric: the :class:`~sdmbench.scoring.energy.EnergyCounter`
observes the first batch of the real sampling pass; energy is reported per
generated image and per denoising step (per image), with per-neuron firing
rates.

Values: energy per image and per denoising step (mJ), MACs, SOPs and
elementwise operations per image, mean firing rate. Details: the per-layer
counts, every neuron layer's firing rate, the images observed and the steps."""
from __future__ import annotations

from sdmbench.scoring.energy import EnergyCounter
from sdmbench.scoring.metric import Metric, Scores, ScoringContext


class Energy(Metric):
    name = "energy"
    higher_is_better = {"energy_per_image_mj": False, "energy_per_step_mj": False}
    needs_features = False

    def __init__(self):
        self.counter = None

    def observe(self, backbone):
        self.counter = EnergyCounter(backbone)
        return self.counter

    def observations(self):
        return None if self.counter is None else (self.counter.layers, self.counter.spikes)

    def merge(self, others):
        for layers, spikes in filter(None, others):
            self.counter.absorb(layers, spikes)

    def compute(self, ctx: ScoringContext):
        if self.counter is None:
            return Scores()
        report = self.counter.report()
        images = ctx.sampling["observed_images"]
        steps = ctx.sampling["steps"]
        per_image = report.energy_j / images
        rates = report.firing_rates
        values = {
            "energy_per_image_mj": per_image * 1e3,
            "energy_per_step_mj": per_image / steps * 1e3,
            "macs_per_image": report.macs / images,
            "sops_per_image": report.sops / images,
            "elementwise_ops_per_image": report.elementwise / images,
            "mean_firing_rate": (sum(rates.values()) / len(rates)) if rates else None,
        }
        return Scores(values, {**report.as_dict(), "observed_images": images, "steps": steps})
