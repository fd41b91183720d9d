"""Training details: BatchNorm statistics recomputed for the EMA weights, the learning-rate schedule."""
import math

import pytest
import torch
from torch import nn

from sdmbench.running.config import RunConfig
from sdmbench.running.training import recalibrate_batchnorm
from sdmbench_ddpm.process import GaussianDiffusion


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x, t):
        return self.bn(self.conv(x))


class Images:
    def random_batch(self, n, generator):
        return torch.rand(n, 1, 8, 8, generator=generator) * 2 - 1


def test_recalibrated_statistics_are_the_batch_statistics_of_fresh_noisy_training_batches():
    torch.manual_seed(0)
    model, process, config = ConvBN().eval(), GaussianDiffusion(), RunConfig(batch_size=16, bn_batches=2)
    model.bn.running_mean.fill_(5.0)  # stale statistics, as copied from other weights
    recalibrate_batchnorm(model, process, Images(), config, torch.device("cpu"), torch.Generator().manual_seed(3))

    gen, inputs = torch.Generator().manual_seed(3), []
    for _ in range(2):  # the same draws, in the same order
        x0 = Images().random_batch(16, gen)
        t = torch.randint(0, 1000, (16,), generator=gen)
        inputs.append(process.q_sample(x0, t, torch.randn(x0.shape, generator=gen)))
    with torch.no_grad():
        feats = [model.conv(x).transpose(0, 1).flatten(1) for x in inputs]
    expected_mean = torch.stack([f.mean(1) for f in feats]).mean(0)  # cumulative average over batches
    expected_var = torch.stack([f.var(1) for f in feats]).mean(0)  # unbiased, as BatchNorm keeps it
    assert torch.allclose(model.bn.running_mean, expected_mean, atol=1e-6)
    assert torch.allclose(model.bn.running_var, expected_var, atol=1e-5)
    assert not model.training


def test_cosine_schedule_runs_from_lr_to_zero_and_constant_stays_put():
    from sdmbench.running.training import learning_rate

    cosine = RunConfig(lr=2e-3, train_steps=100, lr_schedule="cosine")
    assert learning_rate(cosine, 0) == 2e-3
    assert math.isclose(learning_rate(cosine, 50), 1e-3)  # half-way: cos(pi/2) = 0
    assert math.isclose(learning_rate(cosine, 25), 1e-3 * (1 + math.sqrt(0.5)))
    assert 0 < learning_rate(cosine, 99) < 1e-6
    assert learning_rate(RunConfig(lr=2e-3, train_steps=100), 99) == 2e-3


def test_the_optimiser_steps_at_the_scheduled_rate():
    """Adam on a constant gradient moves a weight by exactly lr per step
    (m_hat / sqrt(v_hat) = 1), so the increments are the schedule."""
    from sdmbench.running.training import learning_rate, optimise

    w = torch.nn.Parameter(torch.zeros(1))
    config = RunConfig(lr=0.1, train_steps=4, lr_schedule="cosine", grad_clip=0.0)
    trace = []
    optimise([w], lambda step: -w.sum(), config, after_step=lambda step: trace.append(w.item()))
    steps = [b - a for a, b in zip([0.0] + trace, trace)]
    assert steps == pytest.approx([learning_rate(config, k) for k in range(4)], abs=1e-6)
    assert steps[0] == pytest.approx(0.1) and steps[3] == pytest.approx(0.1 * (1 + math.cos(0.75 * math.pi)) / 2)
