"""ANN-to-SNN conversion (model sdm-converted): the quantised clipped ReLU, the
IF neuron it becomes, the qcfs converter on a whole U-Net, and fine-tuning."""
import copy
import json

import pytest
import torch
from torch import nn

from sdmbench.plugin_api import loader as plugin_loader
from conftest import configure_from as resolve
from sdmbench.running.runner import execute
from sdmbench.plugin_api.testing import load_plugins
from sdmbench_conversion.converter import convert_qcfs
from sdmbench_conversion.finetune import BlockMatcher
from sdmbench_conversion.layers import QuantClipReLU, TimeGroupNorm, quantised_clip_relu
from sdmbench_conversion.qunet import QuantUNet
from sdmbench_conversion.rate_if import RateIF

from conftest import SHARED_DATA, needs_debian_fmnist, needs_shared_mnist, run_cli

TINY = dict(img_ch=1, img_size=8, ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)


def rate(neuron: RateIF, x: torch.Tensor) -> torch.Tensor:
    """Mean over T of the neuron's output for the input ``x`` held constant for T steps."""
    T = neuron.T
    return neuron(x.repeat(T, *([1] * (x.dim() - 1)))).view(T, *x.shape).mean(0)


# -- the quantised clipped ReLU -------------------------------------------------------------
def test_quantiser_by_hand():
    # alpha 1.5, 2 bits: levels 0, 0.5, 1, 1.5; rounding half up; clipped at 0 and alpha
    x = torch.tensor([-1.0, 0.2, 0.25, 0.3, 0.74, 0.76, 1.4, 9.0])
    y = quantised_clip_relu(x, torch.tensor(1.5), levels=3)
    assert torch.equal(y, torch.tensor([0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.5, 1.5]))


def test_quantiser_gradients_are_straight_through_and_pact():
    x = torch.tensor([-1.0, 0.4, 3.0], requires_grad=True)
    alpha = torch.tensor(2.0, requires_grad=True)
    quantised_clip_relu(x, alpha, levels=3).sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 0.0]))  # 1 inside (0, alpha), 0 outside
    # d/d alpha: 0 below, (round(z) - z) / L inside with z = 0.4 * 3 / 2 = 0.6, 1 above
    assert alpha.grad.item() == pytest.approx((1 - 0.6) / 3 + 1.0)


# -- the IF neuron it converts to -----------------------------------------------------------
def test_if_neuron_trajectory_by_hand():
    neuron = RateIF(T=3, theta=1.0)
    # x = 0.4 each step: v = 0.5 -> 0.9, 1.3 (spike, 0.3), 0.7: one spike
    # x = 1.2, 0, 0:      v = 0.5 -> 1.7 (spike, 0.7), 0.7, 0.7: one spike
    x = torch.tensor([[0.4, 1.2], [0.4, 0.0], [0.4, 0.0]]).flatten()
    out = neuron(x).view(3, 2)
    assert torch.equal(out, torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]))


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_if_rate_equals_the_quantised_activation_on_the_grid(bits):
    L, alpha = 2 ** bits - 1, 1.75
    k = torch.arange(-3, L + 4, dtype=torch.float32)  # every grid point, and beyond both clips
    x = k * alpha / L
    ann = quantised_clip_relu(x, torch.tensor(alpha), L)
    snn = rate(RateIF(T=L, theta=alpha), x)
    assert torch.equal(snn * L / alpha, ann * L / alpha)  # spike counts equal the quantised levels exactly
    assert torch.allclose(snn, ann, atol=1e-6)


def test_converted_layer_equals_the_quantised_layer_on_grid_inputs():
    class Layer(nn.Module):
        time_steps = 1

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3, bias=False)
            self.act = QuantClipReLU(bits=2, alpha_init=1.5)

        def forward(self, x):
            h = self.linear(x.repeat(self.time_steps, 1))
            return self.act(h).view(self.time_steps, len(x), -1).mean(0)

    ann = Layer()
    with torch.no_grad():  # integer weights, inputs on the 0.5 grid: pre-activations on the grid
        ann.linear.weight.copy_(torch.tensor([[1.0, -1, 0, 2], [0, 1, 1, -1], [2, 0, -1, 1]]))
    x = torch.randint(-3, 4, (64, 4)).float() * 0.5
    snn = convert_qcfs(ann, T=3)
    assert isinstance(snn.act, RateIF) and snn.act.theta.item() == 1.5
    assert torch.equal(snn(x), ann(x))


# -- the whole U-Net -------------------------------------------------------------------------
def set_bits(net: nn.Module, bits: int) -> nn.Module:
    for m in net.modules():
        if isinstance(m, QuantClipReLU):
            m.bits, m.levels = bits, 2 ** bits - 1
    return net


def test_time_group_norm_normalises_the_rate():
    norm = TimeGroupNorm(2, 4)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    x = torch.randn(3 * 5, 4, 6, 6)
    reference = nn.GroupNorm(2, 4)
    reference.load_state_dict(norm.state_dict())
    assert torch.allclose(norm(x), reference(x), atol=1e-6)  # T = 1: plain GroupNorm
    norm.time_steps = 3
    y = norm(x).view(3, 5, 4, 6, 6).mean(0)
    assert torch.allclose(y, reference(x.view(3, 5, 4, 6, 6).mean(0)), atol=1e-5)


def test_one_bit_one_step_conversion_is_exact():
    # one step from v = theta/2 fires iff x >= theta/2: the 1-bit quantiser itself
    torch.manual_seed(0)
    ann = QuantUNet(bits=1, alpha_init=1.0, **TINY).eval()
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([0, 10, 500, 999])
    with torch.no_grad():
        assert torch.allclose(convert_qcfs(ann, T=1)(x, t), ann(x, t), atol=1e-5)


def test_converted_unet_approaches_the_ann_as_T_grows():
    torch.manual_seed(0)
    ann = QuantUNet(bits=2, alpha_init=2.0, **TINY).eval()
    x, t = torch.randn(8, 1, 8, 8), torch.randint(0, 1000, (8,))
    errors = []
    with torch.no_grad():
        for bits in (2, 3, 4, 5, 6):  # same weights, b-bit activations, T = 2^b - 1
            net = set_bits(copy.deepcopy(ann), bits)
            errors.append(float((convert_qcfs(net, T=2 ** bits - 1)(x, t) - net(x, t)).abs().mean()))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.25 * errors[0], errors


def test_converter_leaves_the_ann_alone_and_tells_every_layer_T():
    ann = QuantUNet(bits=2, **TINY)
    before = {k: v.clone() for k, v in ann.state_dict().items()}
    snn = convert_qcfs(ann, T=3)
    assert all(torch.equal(before[k], v) for k, v in ann.state_dict().items())
    assert ann.time_steps == 1 and not any(isinstance(m, RateIF) for m in ann.modules())
    acts = [m for m in ann.modules() if isinstance(m, QuantClipReLU)]
    neurons = [m for m in snn.modules() if isinstance(m, RateIF)]
    assert len(neurons) == len(acts) > 0 and not any(isinstance(m, QuantClipReLU) for m in snn.modules())
    assert snn.time_steps == 3 and all(m.time_steps == 3 for m in snn.modules() if isinstance(m, TimeGroupNorm))


def test_converter_refuses_networks_it_cannot_convert():
    with pytest.raises(ValueError, match="time_steps"):
        convert_qcfs(nn.Sequential(QuantClipReLU(2)), T=3)
    plain = nn.Sequential(nn.ReLU())
    plain.time_steps = 1
    with pytest.raises(ValueError, match="no quantised clipped ReLU"):
        convert_qcfs(plain, T=3)


def test_fine_tuning_objective_is_zero_for_identical_networks_and_trainable():
    torch.manual_seed(0)
    ann = QuantUNet(bits=2, alpha_init=2.0, **TINY).eval()
    blocks = ann.feature_blocks()
    x, t = torch.randn(8, 1, 8, 8), torch.randint(0, 1000, (8,))
    same = BlockMatcher(ann, copy.deepcopy(ann), blocks, T=1)
    assert same(x, t).item() == 0.0
    same.close()
    snn = convert_qcfs(ann, T=3).train()
    matcher = BlockMatcher(ann, snn, blocks, T=3)
    opt = torch.optim.Adam(snn.parameters(), lr=1e-3)
    first = matcher(x, t)
    for _ in range(30):
        loss = matcher(x, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert matcher(x, t).item() < 0.7 * first.item()
    matcher.close()
    assert not ann._forward_hooks and all(not m._forward_hooks for m in snn.modules())


def test_converters_are_a_plugin_kind():
    class Plugin:
        import sdmbench

        @sdmbench.hookimpl
        def sdmbench_register_converters(self, registry):
            registry.add("qcfs-zero-init", lambda ann, T: convert_qcfs(ann, T, v_init=0.0))

    plugins = load_plugins(Plugin())
    assert {"qcfs", "qcfs-zero-init"} <= set(plugins.converter.names())
    snn = plugins.converter.get("qcfs-zero-init")(QuantUNet(bits=2, **TINY), 3)
    assert all(m.v_init == 0.0 for m in snn.modules() if isinstance(m, RateIF))


# -- as a model of the harness -----------------------------------------------------------------
@needs_debian_fmnist
def test_smoke_run_records_ann_and_converted_fid_and_energy(tmp_path):
    code, out, err = run_cli("run", "--model", "sdm-converted", "--set", "bits=2", "--dataset", "fashion-mnist",
                             "--preset", "smoke", "--results-dir", str(tmp_path))
    assert code == 0, err
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    record = json.loads((folder / "record.json").read_text())
    m = record["metrics"]
    assert record["T"] == 3 and record["config"]["options"]["bits"] == 2
    assert m["fid"] > 0 and m["ann_fid"] > 0 and m["fid"] != m["ann_fid"]
    # the SNN's convolutions read spikes (SOPs); the ANN's read 4-level activations (MACs)
    assert m["sops_per_image"] > 10 * m["macs_per_image"] and m["ann_macs_per_image"] > 10 * m["macs_per_image"]
    assert 0 < m["mean_firing_rate"] < 1 and m["energy_per_image_mj"] < m["ann_energy_per_image_mj"]
    assert (folder / "samples.png").is_file() and (folder / "samples-ann.png").is_file()


@pytest.fixture
def tiny_conversion(tmp_path, monkeypatch):

    def run(resume=None, rerun=None, **overrides):
        settings = dict(model="sdm-converted", dataset="mnist", split="test", data_root=str(SHARED_DATA),
                        results_dir=str(tmp_path), image_size=16, train_steps=4, batch_size=8, num_samples=16,
                        sample_batch_size=16, sample_steps=3, reference_images=64,
                        backbone=dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0))
        preset = plugin_loader.get().model.get("sdm-converted")().preset("smoke")
        config = resolve(preset, {**settings, **overrides})
        folder = execute(config, log=lambda *a: None, resume=resume, rerun=rerun).folder
        return folder, json.loads((folder / "record.json").read_text())

    return run


@needs_shared_mnist
def test_bits_set_T_unless_T_is_given(tiny_conversion):
    _, record = tiny_conversion(bits=3)
    assert (record["config"]["options"]["bits"], record["T"]) == (3, 7)
    _, record = tiny_conversion(bits=3, T=4)
    assert (record["config"]["options"]["bits"], record["T"]) == (3, 4)


@needs_shared_mnist
def test_fine_tuning_is_a_stage_scored_beside_the_plain_conversion(tiny_conversion):
    plain_dir, plain = tiny_conversion()
    tuned_dir, tuned = tiny_conversion(fine_tune=True)
    # --train-steps (given here) sets every stage, the fine-tuning too
    assert list(tuned["stages"]) == ["ann", "finetune"] and tuned["stages"]["finetune"]["steps"] == 4
    # the same ANN and the same conversion, scored with the same seed, before fine-tuning
    assert tuned["metrics"]["ann_fid"] == plain["metrics"]["ann_fid"]
    assert tuned["metrics"]["converted_fid"] == plain["metrics"]["fid"]
    assert tuned["metrics"]["fid"] != plain["metrics"]["fid"]
    assert (tuned_dir / "samples-converted.png").is_file() and (tuned_dir / "stage-finetune.pt").is_file()
    again_dir, again = tiny_conversion(resume=tuned_dir, fine_tune=True)
    assert again["stages"]["finetune"] == {"resumed_from": str(tuned_dir / "stage-finetune.pt")}
    assert again["metrics"]["fid"] == tuned["metrics"]["fid"]
