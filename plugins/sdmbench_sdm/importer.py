"""``sdmbench import sddpm CKPT --out RUN_DIR``: the authors' SDDPM (``Spk_UNet``)
or SDM (``Spk_UNet_TSM``) checkpoint as an sdmbench run folder.

:func:`import_sddpm` reads their state dict (``ema_model``, else
``net_model``, or ``key``), reads ``ch``, the image channels and (for TSM) T
off the weights, maps their module names onto ``sdm-unet``'s
(:mod:`.sddpm_import`) and writes ``config.json``, ``stage-train.pt`` and
``imported.json``; ``sdmbench run --resume RUN_DIR`` then samples and scores
it like any other run. The command comes to the command line through this
plugin's ``sdmbench_register_commands`` hook.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import typer

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.api import build_backbone
from sdmbench.running.checkpoint import load_state
from sdmbench.plugin_api.commands import group
from sdmbench.running.configure import configure
from sdmbench.errors import UsageError
from sdmbench.running.records import CONFIG_FILE, write_json_atomic

from . import sddpm_import

STAGE_FILE = "stage-train.pt"


def import_sddpm(checkpoint: Path, out: Path, *, dataset: str = "cifar10", ch_mult: Sequence[int] = (1, 2, 2, 4),
                 num_res_blocks: int = 2, T: Optional[int] = None, img_size: int = 32,
                 img_ch: Optional[int] = None, key: Optional[str] = None, ch: Optional[int] = None,
                 preset: str = "paper", plugins=None) -> Path:
    """Write ``out/`` (config.json + stage-train.pt + imported.json) from an SDDPM / SDM checkpoint."""
    plugins = plugins or plugin_loader.get()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out} exists and is not empty; pick a new folder")
    theirs = sddpm_import.pick_state_dict(load_state(checkpoint, "cpu", "import sddpm"), key)
    found, tsm, gains = sddpm_import.infer_shape(theirs)
    if img_ch is not None and img_ch != found["img_ch"]:
        raise UsageError(f"--img-ch {img_ch} but the checkpoint's first convolution takes {found['img_ch']} channels")
    if ch is not None and ch != found["ch"]:
        raise UsageError(f"--ch {ch} but the checkpoint's first convolution has {found['ch']} channels")
    if tsm and T is not None and T != gains:
        raise UsageError(f"--T {T} but the checkpoint's TSM gains cover {gains} time steps")
    T = gains if tsm else (T or 4)
    sddpm_import.check_table(theirs, found["ch"])
    backbone = dict(plugins.model.get("sdm")().preset(preset).get("backbone", {}), ch=found["ch"],
                    ch_mult=list(ch_mult), num_res_blocks=num_res_blocks)
    config = configure(plugins, dict(model="sdm", neuron="tsm" if tsm else "if", dataset=dataset, preset=preset,
                                     T=T, image_size=img_size, train_steps=0), {"backbone": backbone})
    shape = dict(img_ch=found["img_ch"], img_size=img_size, **config.backbone)
    net = build_backbone(config, shape, plugins)
    sddpm_import.load_into(net, theirs)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "ema": net.state_dict(), "shape": shape}, out / STAGE_FILE)
    write_json_atomic(out / CONFIG_FILE, config.to_dict())
    write_json_atomic(out / "imported.json", {"format": "sddpm", "source": str(checkpoint),
                                              "tsm": tsm, "T": T, "shape": shape})
    return out


def _int_list(text: str, flag: str) -> List[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated integers like 1,2,2,4, got '{text}'") from None
    if not values:
        raise UsageError(f"{flag} is empty")
    return values


def import_sddpm_cmd(
    checkpoint: Path = typer.Argument(..., help="their .pt file (net_model / ema_model state dicts)"),
    out_dir: Path = typer.Option(..., "--out", help="new run folder to write"),
    dataset: str = typer.Option("cifar10", help="dataset the checkpoint was trained on (for scoring)"),
    ch_mult: str = typer.Option("1,2,2,4", help="channel multipliers it was trained with"),
    res_blocks: int = typer.Option(2, help="residual blocks per level"),
    T: Optional[int] = typer.Option(None, "--T", help="spiking time steps (read from TSM gains when present)",
                                    show_default="4"),
    img_size: int = typer.Option(32, help="image size it was trained at"),
    img_ch: Optional[int] = typer.Option(None, help="image channels (checked against the checkpoint)"),
    key: Optional[str] = typer.Option(None, help="which state dict in the file",
                                      show_default="ema_model, else net_model"),
    ch: Optional[int] = typer.Option(None, help="base channels (checked against the checkpoint)"),
):
    """Import an SDDPM (Spk_UNet) or SDM (Spk_UNet_TSM) checkpoint as a run folder."""
    if not checkpoint.is_file():
        raise UsageError(f"no checkpoint file at {checkpoint}")
    from sdmbench.running.records import check_writable

    check_writable(out_dir.parent, f"the run folder {out_dir.name}")
    folder = import_sddpm(checkpoint, out_dir, dataset=dataset, ch_mult=_int_list(ch_mult, "--ch-mult"),
                          num_res_blocks=res_blocks, T=T, img_size=img_size, img_ch=img_ch, key=key, ch=ch)
    info = json.loads((folder / "imported.json").read_text())
    print(f"imported {'SDM (TSM)' if info['tsm'] else 'SDDPM'} U-Net, T={info['T']}, {info['shape']} -> {folder}")
    print(f"sample and score it with: sdmbench run --resume {folder}")


def register(app: typer.Typer) -> None:
    group(app, "import").command("sddpm")(import_sddpm_cmd)
