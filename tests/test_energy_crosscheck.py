"""sdmbench's MAC and synaptic-accumulate counts equal an independent
counter's, layer by layer: spikingjelly's ``op_counter`` (ATen-level
dispatch, its own spike test and fan-out rule), on a spiking U-Net (IF and
TSM), its ANN twin and the Spiking-Diffusion denoiser.

Same convention on both sides: MACs of dense convolutions and linear
layers, accumulates of those fed 0/1 spikes. spikingjelly also counts
normalisation and other ATen ops as MACs; those are left out here (the
architecture page lists what each counter leaves out)."""
import pytest
import torch

from sdmbench.plugin_api import loader as plugins
from sdmbench.energy import EnergyCounter
from sdmbench.plugin_api.neuron import neuron_maker

op_counter = pytest.importorskip(
    "spikingjelly.activation_based.op_counter",
    reason="spikingjelly is not installed: pip install --no-deps spikingjelly==2.0.0 'loguru>=0.7,<1' "
           "(README, 'Set up': its declared dependencies would replace this torch)")

SYNAPTIC_OPS = {"aten.convolution.default", "aten.addmm.default", "aten.mm.default", "aten.bmm.default"}
UNET = dict(img_ch=1, img_size=8, ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)


def independent(net, *inputs) -> dict:
    """spikingjelly's MACs and synaptic ops per module (leaf scopes, synaptic ATen ops only)."""
    macs, synops = op_counter.MACCounter(), op_counter.SynOpCounter()
    with torch.no_grad(), op_counter.DispatchCounterMode([macs, synops]):
        net(*inputs)
    root, found = type(net).__name__ + ".", {}
    for counter, key in ((macs, "macs"), (synops, "acs")):
        for scope, ops in counter.get_counts().items():
            name = "(total)" if scope == "Global" else scope[len(root):] if scope.startswith(root) else None
            if name is not None:
                layer = found.setdefault(name, {"macs": 0, "acs": 0})
                layer[key] += sum(n for op, n in ops.items() if str(op) in SYNAPTIC_OPS)
    return found


def ours(net, *inputs) -> dict:
    with torch.no_grad(), EnergyCounter(net) as counter:
        net(*inputs)
    return {name: {"macs": layer.counts.macs, "acs": layer.counts.acs}
            for name, layer in counter.layers.items() if layer.kind in ("Conv", "Conv2d", "ConvTranspose2d", "Linear")}


def assert_same_counts(net, *inputs) -> dict:
    mine, theirs = ours(net, *inputs), independent(net, *inputs)
    assert mine, "no synaptic layer counted"
    leaves = {n for n in theirs if n != "(total)" and not any(m.startswith(n + ".") for m in theirs)}
    counted_there = {n for n in leaves if theirs[n]["macs"] or theirs[n]["acs"]}
    assert counted_there <= set(mine), f"layers we do not count: {sorted(counted_there - set(mine))}"
    for name, counts in mine.items():  # layer by layer, exactly: dropping or mis-counting any one layer fails
        for key in ("macs", "acs"):
            assert counts[key] == theirs[name][key], f"{name}: {key}"
    totals = {key: sum(c[key] for c in mine.values()) for key in ("macs", "acs")}
    assert totals == theirs["(total)"]  # no synaptic op of the pass is missed
    return totals


def backbone(name: str, neuron: str | None, **config):
    p = plugins.get()
    make = neuron_maker(p.neuron.get(neuron), config.pop("T")) if neuron else None
    torch.manual_seed(0)
    return p.backbone.get(name)(make, **config).eval()


@pytest.mark.parametrize("neuron", ["if", "tsm"])
def test_the_spiking_unet_counts_as_spikingjelly_counts_it(neuron):
    net = backbone("sdm-unet", neuron, T=2, **UNET)
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([10, 500, 900])
    totals = assert_same_counts(net, x, t)
    assert totals["acs"] > 0 and totals["macs"] > 0  # spiking layers, and the real-valued stem and embedding


def test_the_ann_twin_counts_as_spikingjelly_counts_it():
    net = backbone("sdm-unet", None, **UNET)
    totals = assert_same_counts(net, torch.randn(3, 1, 8, 8), torch.tensor([10, 500, 900]))
    assert totals["acs"] == 0


def test_the_spiking_diffusion_denoiser_counts_as_spikingjelly_counts_it():
    net = backbone("sdid", "lif", T=2, num_codes=16, num_tokens=16, widths=(8, 8, 16, 16, 8))
    with torch.no_grad():  # untrained weights barely reach the LIF threshold (tau = 2): make some fire
        for conv in net.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.weight.mul_(8)
    tokens = torch.randint(0, 17, (3, 4, 4))
    totals = assert_same_counts(net, tokens, torch.tensor([1, 8, 16]))
    assert totals["acs"] > 0


def test_the_ann_twin_at_t_0_counts_its_all_0_and_1_time_embedding_as_macs():
    # sin(0) = 0 and cos(0) = 1: a value test would call the embedding spikes; no neuron emitted it
    net = backbone("sdm-unet", None, **UNET)
    counts = ours(net, torch.randn(3, 1, 8, 8), torch.zeros(3, dtype=torch.long))
    first = net.time_embedding.mlp[0]
    assert counts["time_embedding.mlp.0"] == {"macs": 3 * first.in_features * first.out_features, "acs": 0}
    assert sum(c["acs"] for c in counts.values()) == 0


def test_a_real_input_the_same_at_every_step_is_computed_and_counted_once():
    # Spiking-Diffusion's direct encoding, its spike generator and its denoiser's first layer: as sdm's stem
    sdid = backbone("sdid", "lif", T=4, num_codes=16, num_tokens=16, widths=(8, 8, 16, 16, 8))
    counts = ours(sdid, torch.randint(0, 17, (3, 4, 4)), torch.tensor([1, 8, 16]))
    assert counts["layers.0.conv"]["macs"] == 3 * (8 * 4 * 4) * (2 * 9)  # B, not T x B, samples
    vq = backbone("vq-svae", "lif", T=4, img_size=16, num_codes=16, code_dim=4, widths=(8, 8))
    with torch.no_grad(), EnergyCounter(vq) as counter:
        vq.decode(vq.encode(torch.randn(3, 1, 16, 16)))
    assert counter.layers["encoder.0.conv"].counts.macs == 3 * (8 * 8 * 8) * (1 * 9)
    assert counter.layers["spike_generator.conv"].counts.macs == 3 * (4 * 4 * 4) * 4
