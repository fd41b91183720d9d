"""The Gaussian diffusion process, checked against identities."""
import pytest
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


@pytest.mark.parametrize("abar_s, abar_n", [(0.9, 0.5), (0.99, 0.98), (0.5, 0.01)])
def test_analytic_variance_is_the_exact_posterior_variance_for_gaussian_data(abar_s, abar_n):
    # x0 ~ N(0, I): every x_t ~ N(0, I), the exact eps predictor is sqrt(1 - abar_n) x_n, so
    # Gamma_n = 1 - abar_n, and Var(x_s | x_n) = 1 - abar_n / abar_s exactly.
    got = GaussianDiffusion.analytic_variance(abar_n, abar_s, gamma=1 - abar_n)
    assert got == pytest.approx(1 - abar_n / abar_s, rel=1e-12)


def test_analytic_variance_spans_ddpm_beta_tilde_to_its_upper_bound():
    abar_s, abar_n = 0.8, 0.6
    beta_tilde = (1 - abar_s) / (1 - abar_n) * (1 - abar_n / abar_s)
    assert GaussianDiffusion.analytic_variance(abar_n, abar_s, gamma=1.0) == pytest.approx(beta_tilde)
    hi = GaussianDiffusion.analytic_variance(abar_n, abar_s, gamma=0.0)
    assert hi == pytest.approx(beta_tilde + (((1 - abar_n) / (abar_n / abar_s)) ** 0.5
                                             - (1 - abar_s - beta_tilde) ** 0.5) ** 2)
    assert hi > beta_tilde  # a model predicting no noise gets the widest variance
    assert GaussianDiffusion.analytic_variance(abar_n, abar_s, gamma=3.0) == pytest.approx(beta_tilde)  # clipped


def test_moments_of_the_gaussian_eps_predictor_are_one_minus_abar():
    p = GaussianDiffusion()

    class GaussianOracle(torch.nn.Module):
        def forward(self, x, t):
            return (1 - p.alphas_bar[t]).sqrt().float().view(-1, 1, 1, 1) * x

    x0 = torch.randn(400, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    gamma = p.moments(GaussianOracle(), x0, steps=5, generator=torch.Generator().manual_seed(1))
    expected = 1 - p.alphas_bar[p.timesteps(5)]
    assert torch.allclose(gamma, expected, atol=0.01)


def test_analytic_sampling_with_the_oracle_lands_on_the_data_point():
    p = GaussianDiffusion()
    x0 = torch.rand(1, 1, 4, 4) * 2 - 1
    oracle = Oracle(p, x0)
    gamma = p.moments(oracle, x0.expand(200, -1, -1, -1), steps=10, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gamma, torch.ones_like(gamma), atol=0.1)  # E||eps||^2 / d of true noise
    out = p.sample(oracle, 3, (1, 4, 4), sampler="analytic", steps=10, moments=gamma,
                   generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0.expand(3, -1, -1, -1), atol=1e-4)
    with pytest.raises(ValueError, match="needs moments"):
        p.sample(oracle, 1, (1, 4, 4), sampler="analytic", steps=10)
