"""Spiking-Diffusion: the absorbing process and the quantiser by hand, the
VQ-SVAE and SDID shapes, and the two-stage model end to end."""
import json
import math

import pytest
import torch

from conftest import configure_from as resolve
from sdmbench.plugin_api.neuron import neuron_maker
from sdmbench.running.runner import execute
from sdmbench_neurons import make_if
from sdmbench_spiking_diffusion.absorbing import AbsorbingDiffusion
from sdmbench_spiking_diffusion.quantizer import VectorQuantizer, codebook_usage
from sdmbench_spiking_diffusion.sdid import SDID
from sdmbench_spiking_diffusion.vqsvae import VQSVAE, membrane_readout, psp

from conftest import SHARED_DATA, needs_debian_fmnist, needs_shared_mnist, run_cli


# -- absorbing process -----------------------------------------------------------

def test_masking_rate_is_t_over_n():
    p = AbsorbingDiffusion(num_codes=8, num_tokens=49)
    x0 = torch.zeros(2000, 7, 7, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    for t in (0, 49):
        xt, mask = p.q_sample(x0, torch.full((2000,), t), gen)
        assert mask.float().mean().item() == t / 49
    xt, mask = p.q_sample(x0, torch.full((2000,), 14), gen)
    assert abs(mask.float().mean().item() - 14 / 49) < 0.01
    assert torch.equal(xt == 8, mask)  # masked tokens carry the mask id K


def test_loss_weight_is_one_minus_t_over_n_over_ln2_n():
    p = AbsorbingDiffusion(num_codes=8, num_tokens=49)
    w = p.weight(torch.tensor([0, 7, 49]))
    assert w.tolist() == pytest.approx([1 / (math.log(2) * 49), (6 / 7) / (math.log(2) * 49), 0.0])


class Uniform(torch.nn.Module):
    """Zero logits (CE = ln K per token); remembers what it was shown."""

    def forward(self, tokens, t):
        self.seen = (tokens.clone(), t.clone())
        return torch.zeros(tokens.shape[0], 8, *tokens.shape[1:])


def test_loss_by_hand_for_uniform_predictions():
    p, net = AbsorbingDiffusion(num_codes=8, num_tokens=16), Uniform()
    loss = p.loss(net, torch.randint(0, 8, (5, 4, 4), generator=torch.Generator().manual_seed(1)),
                  generator=torch.Generator().manual_seed(2))
    tokens, t = net.seen
    masked = (tokens == 8).flatten(1).sum(1).float()
    expected = ((1 - t / 16) * masked * math.log(8) / (math.log(2) * 16)).mean()
    assert loss.item() == pytest.approx(expected.item())


def test_sampling_ends_with_no_mask_token_and_follows_the_denoiser():
    class Always3(torch.nn.Module):
        def forward(self, tokens, t):
            logits = torch.full((tokens.shape[0], 8, *tokens.shape[1:]), -30.0)
            logits[:, 3] = 30.0
            return logits

    p = AbsorbingDiffusion(num_codes=8, num_tokens=16)
    for steps in (16, 5, 1):
        out = p.sample(Always3(), 3, (4, 4), steps=steps, generator=torch.Generator().manual_seed(0))
        assert (out == 3).all() and not (out == 8).any()


def test_each_step_unmasks_about_one_over_t_of_the_masked_tokens():
    p = AbsorbingDiffusion(num_codes=8, num_tokens=100)
    counts = []

    class Counting(Uniform):
        def forward(self, tokens, t):
            counts.append((tokens == 8).float().mean().item())
            return super().forward(tokens, t)

    p.sample(Counting(), 200, (10, 10), steps=100, generator=torch.Generator().manual_seed(0))
    # before step t (counting down from 100) a fraction t/100 is still masked, in expectation
    assert counts[0] == 1.0
    assert abs(counts[50] - 0.5) < 0.02 and abs(counts[90] - 0.1) < 0.02


# -- quantiser ---------------------------------------------------------------------

def quantiser():
    vq = VectorQuantizer(num_codes=3, code_dim=2, beta=0.25)
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]))
    return vq


def test_nearest_code():
    z = torch.tensor([[0.1, 0.2], [0.9, 1.2], [1.8, -0.3], [1.4, 0.6]]).t().reshape(1, 2, 2, 2)
    # squared distances of (1.4, 0.6): to e1 0.16+0.16 = 0.32, to e2 0.36+0.36 = 0.72 -> code 1
    assert quantiser().nearest(z).flatten().tolist() == [0, 1, 2, 1]


def test_straight_through_gradient_and_loss_value():
    vq = quantiser()
    z = torch.tensor([[0.1, 0.2], [0.9, 1.2]]).t().reshape(1, 2, 1, 2).requires_grad_()
    out, idx, loss = vq(z)
    assert torch.allclose(out, vq.lookup(idx))  # forward: the codes
    (out * torch.tensor([3.0, 5.0]).view(1, 2, 1, 1)).sum().backward(retain_graph=True)
    assert torch.allclose(z.grad, torch.tensor([3.0, 5.0]).view(1, 2, 1, 1).expand_as(z))  # backward: identity
    sq = (0.1 ** 2 + 0.2 ** 2 + 0.1 ** 2 + 0.2 ** 2) / 4  # mean squared error between z and its codes
    assert loss.item() == pytest.approx(sq * (1 + 0.25))


def test_codebook_usage():
    perplexity, dead = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert perplexity == pytest.approx(2.0) and dead == 2
    assert codebook_usage(torch.arange(8), 8) == (pytest.approx(8.0), 0)


# -- networks ------------------------------------------------------------------------

def test_psp_filter_and_membrane_readout_by_hand():
    x = torch.tensor([1.0, 0.0, 0.0]).view(3, 1)
    assert psp(x, tau_s=2.0).flatten().tolist() == [0.5, 0.25, 0.125]
    assert membrane_readout(torch.ones(3, 1)).item() == pytest.approx(0.64 + 0.8 + 1.0)


def test_vqsvae_maps_28x28_to_a_7x7_grid_and_back():
    ae = VQSVAE(neuron_maker(make_if, 2), T=2, img_size=28, num_codes=16, code_dim=4).eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    idx = ae.encode(x)
    assert idx.shape == (3, 7, 7) and int(idx.max()) < 16
    y = ae.decode(idx)
    assert y.shape == x.shape and y.abs().max() <= 1
    recon, parts = ae.train().losses(x)
    (parts["mse"] + parts["vq"] + parts["psp"]).backward()
    assert ae.alpha.grad is not None and ae.quantizer.codebook.weight.grad is not None


def test_sdid_gives_logits_per_token():
    net = SDID(neuron_maker(make_if, 2), T=2, num_codes=16, num_tokens=49, widths=(8, 8, 8, 8, 8))
    logits = net(torch.randint(0, 17, (2, 7, 7)), torch.tensor([1, 49]))
    assert logits.shape == (2, 16, 7, 7)


# -- the model -------------------------------------------------------------------------

@needs_shared_mnist
def test_two_stages_recorded_and_the_second_reruns_alone(tmp_path, monkeypatch):
    tiny = dict(image_size=16, T=2, backbone=dict(autoencoder=dict(num_codes=8, code_dim=4, widths=(8, 8)),
                                                  denoiser=dict(widths=(8, 8, 8, 8, 8))),
                train_steps=3, batch_size=8, sample_steps=4, num_samples=16, sample_batch_size=16,
                reference_images=64, split="test", dataset="mnist", model="spiking-diffusion", neuron="if",
                sampler="unmask", process=dict(temperature=0.8))
    config = resolve(tiny, {"data_root": str(SHARED_DATA), "results_dir": str(tmp_path)})
    first = execute(config, log=lambda *a: None).folder
    record = json.loads((first / "record.json").read_text())
    assert set(record["stages"]) == {"vq-svae", "diffusion"}
    assert {"reconstruction_mse", "codebook_perplexity", "dead_codes"} <= set(record["metrics"])
    assert record["protocol"]["sampler_options"] == {"temperature": 0.8}
    names = set(record["details"]["energy"]["firing_rates"])
    assert any(n.startswith("denoiser.") for n in names) and any(n.startswith("autoencoder.decoder") for n in names)
    again = json.loads((execute(config, log=lambda *a: None, resume=first, rerun="diffusion").folder
                        / "record.json").read_text())
    assert "resumed_from" in again["stages"]["vq-svae"] and again["stages"]["diffusion"]["steps"] == 3


@needs_debian_fmnist
@pytest.mark.parametrize("neuron", ["lif", "if"])
def test_smoke_preset_with_builtin_neurons(tmp_path, neuron):
    code, out, err = run_cli("run", "--model", "spiking-diffusion", "--neuron", neuron, "--dataset",
                             "fashion-mnist", "--preset", "smoke", "--results-dir", str(tmp_path))
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    m = record["metrics"]
    assert m["fid"] > 0 and m["energy_per_image_mj"] > 0 and 0 < m["reconstruction_mse"] < 1
    assert 1 <= m["codebook_perplexity"] <= 32
    assert record["wall_times"]["sample_s"] > 0  # timed; how long is for benchmarks/, not a pass/fail test
