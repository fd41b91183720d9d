"""Importing the authors' SDDPM / SDM checkpoints (``sdmbench import sddpm``).

The key layout below is written out by hand from their ``Spk_UNet`` for a tiny
config (ch 8, ch_mult (1, 2), one res block), independently of the renaming
rules; ``studies/sddpm/check_import.py`` compares outputs with their code.
"""
import pytest
import torch

from sdmbench.api import load_backbone
from sdmbench_sdm.importer import import_sddpm
from sdmbench.cli import main
from sdmbench.errors import UsageError
from sdmbench_sdm.blocks import sinusoidal_embedding

RES = ["temb_proj.1.weight", "temb_proj.1.bias", "conv1.weight", "conv1.bias", "bn1.*", "conv2.weight",
       "conv2.bias", "bn2.*"]
BN = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
#: their name -> ours, for ch 8, ch_mult (1, 2), 1 res block, 1 image channel
LAYOUT = {
    "time_embedding.timembedding.1": "time_embedding.mlp.0", "time_embedding.timembedding.3": "time_embedding.mlp.2",
    "conv": "stem_conv", "bn": "stem_bn", "conv_identity": "stem_conv2", "bn_identity": "stem_bn2",
    "downblocks.0": "down.0", "downblocks.1": "down.1", "downblocks.2": "down.2",
    "middleblocks.0": "middle.0", "middleblocks.1": "middle.1",
    "upblocks.0": "up.0", "upblocks.1": "up.1", "upblocks.2": "up.2", "upblocks.3": "up.3", "upblocks.4": "up.4",
    "tail_bn": "tail.0", "tail_conv": "tail.2", "T_output_layer": "refine.0", "last_bn": "refine.1",
}


def their_state(ours: dict, tsm: bool = False) -> dict:
    """Our tiny U-Net's weights under their names (Conv3d kernel, TSM wrapping)."""
    theirs = {"time_embedding.timembedding.0.weight": sinusoidal_embedding(torch.arange(1000), 8)}
    for key, value in ours.items():
        prefix = next(p for p in sorted(LAYOUT.values(), key=len, reverse=True) if key.startswith(p + "."))
        name = next(k for k, v in LAYOUT.items() if v == prefix) + key[len(prefix):]
        name = name.replace(".temb.1.", ".temb_proj.1.")
        if name.startswith("T_output_layer.weight"):
            value = value.unsqueeze(-1)
        if tsm and name.endswith(".gain"):
            name, value = name[:-len(".gain")] + ".tsmp", value.view(-1, 1, 1, 1, 1)
        elif tsm and name.rsplit(".", 1)[0] + ".gain" in [n.replace(".temb.1.", ".temb_proj.1.") for n in ours]:
            name = name.rsplit(".", 1)[0] + ".tsmconv." + name.rsplit(".", 1)[1]
        theirs[name] = value.clone()
    return theirs


def tiny(tmp_path, neuron="if"):
    from sdmbench.api import build_backbone
    from sdmbench.running.config import RunConfig

    config = RunConfig(model="sdm", neuron=neuron, T=4)
    shape = dict(img_ch=1, img_size=16, ch=8, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)
    torch.manual_seed(0)
    net = build_backbone(config, shape)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape) * 0.5)
        for name, b in net.named_buffers():
            if name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape))
    return net.eval()


def _import(tmp_path, theirs, **kw):
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"net_model": theirs, "step": 10}, ckpt)
    return import_sddpm(ckpt, tmp_path / "run", dataset="mnist", ch_mult=(1, 2), num_res_blocks=1, img_size=16,
                        **kw)


def test_every_reference_key_lands_on_the_same_weight(tmp_path):
    net = tiny(tmp_path)
    theirs = their_state(net.state_dict())
    assert "downblocks.2.temb_proj.1.weight" in theirs and "T_output_layer.weight" in theirs
    run = _import(tmp_path, theirs, T=4)
    loaded = load_backbone(run)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([3, 700])
    with torch.no_grad():
        assert torch.equal(loaded(x, t), net(x, t))


def test_tsm_checkpoints_bring_their_gains_and_T(tmp_path):
    net = tiny(tmp_path, neuron="tsm")
    with torch.no_grad():
        net.stem_conv.gain.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
    theirs = their_state(net.state_dict(), tsm=True)
    assert theirs["conv.tsmp"].shape == (4, 1, 1, 1, 1) and "down.0.conv1.tsmconv.weight" not in theirs
    run = _import(tmp_path, theirs)
    loaded = load_backbone(run)
    assert loaded.stem_conv.gain.tolist() == [0.5, 1.0, 1.5, 2.0]
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([3, 700])
    with torch.no_grad():
        assert torch.equal(loaded(x, t), net(x, t))


def test_a_wrong_architecture_is_one_clear_error(tmp_path):
    theirs = their_state(tiny(tmp_path).state_dict())
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"net_model": theirs}, ckpt)
    with pytest.raises(UsageError, match="does not fit this U-Net.*--ch-mult"):
        import_sddpm(ckpt, tmp_path / "run", ch_mult=(1, 2, 2), num_res_blocks=1, img_size=16)
    assert not (tmp_path / "run").exists()


def test_cli_import_errors_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for args in (["import", "sddpm", str(bad), "--out", str(tmp_path / "r")],
                 ["import", "sddpm", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "r")],
                 ["import", "sddpm", str(bad), "--out", str(tmp_path / "r"), "--ch-mult", "1,x"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
