"""The Gaussian diffusion process, checked against identities."""
import torch

from sdmbench_ddpm.process import GaussianDiffusion


class Oracle(torch.nn.Module):
    """Predicts the exact noise for a data distribution that is a single image x0."""

    def __init__(self, process, x0):
        super().__init__()
        self.process, self.x0 = process, x0

    def forward(self, x, t):
        abar = self.process.alphas_bar[t].float().view(-1, 1, 1, 1)
        return (x - abar.sqrt() * self.x0) / (1 - abar).sqrt()


def test_schedule_is_linear_from_1e4_to_002_over_1000_steps():
    p = GaussianDiffusion()
    assert len(p.betas) == 1000
    assert abs(p.betas[0].item() - 1e-4) < 1e-12 and abs(p.betas[-1].item() - 0.02) < 1e-12
    assert torch.allclose(p.alphas_bar[:3], torch.cumprod(1 - p.betas[:3], 0))


def test_q_sample_is_the_closed_form_marginal():
    p = GaussianDiffusion()
    x0, noise = torch.full((1, 1, 2, 2), 0.5), torch.ones(1, 1, 2, 2)
    t = torch.tensor([10])
    abar = p.alphas_bar[10].item()
    expected = abar ** 0.5 * 0.5 + (1 - abar) ** 0.5
    assert torch.allclose(p.q_sample(x0, t, noise), torch.full((1, 1, 2, 2), expected))


def test_loss_of_a_perfect_noise_predictor_is_zero():
    p = GaussianDiffusion()
    x0 = torch.rand(1, 1, 4, 4) * 2 - 1
    assert p.loss(Oracle(p, x0), x0.expand(3, -1, -1, -1)).item() < 1e-8


def test_ddim_with_the_oracle_lands_exactly_on_the_data_point():
    p = GaussianDiffusion()
    x0 = torch.rand(1, 1, 4, 4) * 2 - 1
    out = p.sample(Oracle(p, x0), 3, (1, 4, 4), sampler="ddim", steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0.expand(3, -1, -1, -1), atol=1e-5)


def test_ddpm_with_the_oracle_also_converges_to_the_data_point():
    p = GaussianDiffusion()
    x0 = torch.rand(1, 1, 4, 4) * 2 - 1
    out = p.sample(Oracle(p, x0), 2, (1, 4, 4), sampler="ddpm", steps=1000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0.expand(2, -1, -1, -1), atol=1e-4)


def test_ddpm_noise_on_all_steps_is_the_posterior_variance_beta_tilde():
    p = GaussianDiffusion()
    t = 500
    abar, abar_prev = p.alphas_bar[t].item(), p.alphas_bar[t - 1].item()
    sigma2 = (1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)
    beta_tilde = p.betas[t].item() * (1 - abar_prev) / (1 - abar)
    assert abs(sigma2 - beta_tilde) < 1e-12


def test_timesteps_are_distinct_ascending_and_span_the_chain():
    seq = GaussianDiffusion().timesteps(10)
    assert seq.tolist()[0] == 0 and seq.tolist()[-1] == 999 and len(seq) == 10
    assert torch.all(seq[1:] > seq[:-1])


def test_sampling_is_deterministic_under_a_seed():
    p = GaussianDiffusion()
    net = Oracle(p, torch.zeros(1, 1, 4, 4))
    a = p.sample(net, 2, (1, 4, 4), sampler="ddpm", steps=20, generator=torch.Generator().manual_seed(3))
    b = p.sample(net, 2, (1, 4, 4), sampler="ddpm", steps=20, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
