"""The spiking U-Net backbone."""
import pytest
import torch

from sdmbench.plugin_api.neuron import is_neuron, neuron_maker
from sdmbench.errors import UsageError
from sdmbench_neurons import make_if
from sdmbench_sdm.unet import SpikingUNet

SMALL = dict(img_ch=1, img_size=16, ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)


def test_forward_maps_noisy_images_to_noise_of_the_same_shape():
    net = SpikingUNet(neuron_maker(make_if, 4), T=4, **SMALL)
    x = torch.randn(3, 1, 16, 16)
    assert net(x, torch.tensor([0, 10, 999])).shape == x.shape


def test_membrane_readout_weights_are_decay_powers_latest_step_heaviest():
    net = SpikingUNet(neuron_maker(make_if, 4), T=4, **SMALL)
    assert net.readout.flatten().tolist() == pytest.approx([0.8 ** 3, 0.8 ** 2, 0.8, 1.0])


def test_the_ann_twin_has_the_same_parameters_and_no_neurons():
    snn = SpikingUNet(neuron_maker(make_if, 4), T=4, **SMALL)
    ann = SpikingUNet(None, T=4, **SMALL)
    assert ann.T == 1
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]
    assert shapes(ann) == shapes(snn)
    assert not any(is_neuron(m) for m in ann.modules())
    assert sum(is_neuron(m) for m in snn.modules()) == 19  # stem 1, 2 per res block (9), 1 per down/up sample


def test_the_analog_stem_hands_the_image_features_on_real_valued_and_keeps_every_later_conv_spiking():
    """stem="analog": h[n] = BN(conv3x3(x)) at every step, no stem neuron; the other 18 neurons stay."""
    torch.manual_seed(0)
    net = SpikingUNet(neuron_maker(make_if, 4), T=4, stem="analog", **SMALL).eval()
    x = torch.randn(2, 1, 16, 16)
    h = net.stem(x)
    expected = net.stem_bn(net.stem_conv(x))
    assert h.shape == (4, 2, 8, 16, 16) and all(torch.allclose(h[n], expected, atol=1e-6) for n in range(4))
    assert not hasattr(net, "stem_neuron") and sum(is_neuron(m) for m in net.modules()) == 18
    assert net(x, torch.tensor([1, 900])).shape == x.shape
    with pytest.raises(ValueError, match="unknown stem"):
        SpikingUNet(neuron_maker(make_if, 4), T=4, stem="rate", **SMALL)


def test_eval_forward_is_deterministic_and_batch_independent():
    torch.manual_seed(0)
    net = SpikingUNet(neuron_maker(make_if, 2), T=2, **SMALL).eval()
    x, t = torch.randn(4, 1, 16, 16), torch.tensor([5, 50, 500, 900])
    full = net(x, t)
    assert torch.equal(full, net(x, t))
    assert torch.allclose(full[1:2], net(x[1:2], t[1:2]), atol=1e-5)


def test_image_size_must_survive_the_downsampling():
    with pytest.raises(ValueError, match="not divisible"):
        SpikingUNet(None, T=1, img_ch=1, img_size=18, ch=8, ch_mult=(1, 2, 2, 2))


def test_zero_time_steps_is_refused():
    with pytest.raises(UsageError, match="T must be"):
        neuron_maker(make_if, 0)


def test_tsm_gives_every_convolution_T_gains_starting_at_one_and_equals_if_there():
    from sdmbench_neurons import make_tsm

    torch.manual_seed(0)
    plain = SpikingUNet(neuron_maker(make_if, 4), T=4, **SMALL).eval()
    tsm = SpikingUNet(neuron_maker(make_tsm, 4), T=4, **SMALL).eval()
    gains = {n: p for n, p in tsm.named_parameters() if n.endswith(".gain")}
    convs = [n for n, m in tsm.named_modules() if isinstance(m, torch.nn.Conv2d) and n != "refine.0"]
    assert sorted(n[:-len(".gain")] for n in gains) == sorted(convs)
    assert all(p.tolist() == [1.0] * 4 for p in gains.values())
    missing, unexpected = tsm.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == sorted(gains) and not unexpected
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([1, 600])
    with torch.no_grad():
        assert torch.allclose(tsm(x, t), plain(x, t), atol=1e-6)


def test_a_tsm_gain_scales_its_convolution_output_at_that_step_only():
    from sdmbench_sdm.blocks import Conv

    conv = Conv(1, 1, 1, T=3, temporal_gain=True)
    with torch.no_grad():
        conv.weight.fill_(2.0), conv.bias.fill_(1.0), conv.gain.copy_(torch.tensor([1.0, 0.5, 3.0]))
    x = torch.ones(3 * 2, 1, 1, 1)  # T=3 steps of a batch of 2, all inputs 1: (2*1 + 1) * gain[n]
    assert conv(x).flatten().tolist() == [3.0, 3.0, 1.5, 1.5, 9.0, 9.0]
    assert conv(torch.ones(2, 1, 1, 1), repeated=True).flatten().tolist() == [3.0, 3.0, 1.5, 1.5, 9.0, 9.0]
