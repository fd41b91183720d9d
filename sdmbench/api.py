"""Python entry points for using sdmbench runs outside the harness.

- :func:`load_backbone` gives a trained (or imported) diffusion run's
  denoiser as an ``nn.Module``: ``forward(x_t, t) -> predicted noise``.
- :func:`import_sddpm` turns the authors' SDDPM / SDM checkpoint into a run
  folder that ``sdmbench run --resume RUN_DIR`` samples and scores like any
  other run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import nn

from sdmbench import pipeline, plugins as plugin_loader
from sdmbench.config import RunConfig, resolve
from sdmbench.errors import UsageError
from sdmbench.records import write_json_atomic

STAGE_FILE = "stage-train.pt"


def _load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"no {path.name} in {path.parent}; pass a finished or imported diffusion run") from None
    except Exception as exc:  # corrupt or foreign pickles
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def build_backbone(config: RunConfig, shape: dict, plugins=None) -> nn.Module:
    """The backbone a diffusion run's config describes, at its inference threshold."""
    plugins = plugins or plugin_loader.get()
    recipe = plugins.model.get(config.model)()
    neuron = plugins.neuron.get(config.neuron) if recipe.spiking else None
    return pipeline.build_backbone(plugins, recipe.backbone, neuron, config.T if recipe.spiking else 1,
                                   config.threshold, config.neuron_params, **shape)


def load_backbone(run_dir: str | Path, weights: str = "ema", plugins=None) -> nn.Module:
    """The denoiser of a diffusion run, in eval mode, ``forward(x_t, t) -> eps``.

    ``weights``: ``"ema"`` (what sdmbench samples with) or ``"model"`` (the raw
    trained weights). Spiking neurons use the run's inference threshold."""
    from sdmbench.runner import saved_config

    run_dir = Path(run_dir)
    config = RunConfig.from_dict(saved_config(run_dir))
    state = _load(run_dir / STAGE_FILE)
    if weights not in ("ema", "model") or "shape" not in state:
        raise UsageError(f"{run_dir / STAGE_FILE} is not a diffusion backbone stage (weights 'ema' or 'model')")
    net = build_backbone(config, dict(state["shape"]), plugins)
    net.load_state_dict(state[weights])
    return net.eval()


def import_sddpm(checkpoint: Path, out: Path, *, dataset: str = "cifar10", ch_mult: Sequence[int] = (1, 2, 2, 4),
                 num_res_blocks: int = 2, T: Optional[int] = None, img_size: int = 32,
                 img_ch: Optional[int] = None, key: Optional[str] = None, ch: Optional[int] = None,
                 preset: str = "paper",
                 plugins=None) -> Path:
    """Write ``out/`` (config.json + stage-train.pt) from an SDDPM / SDM checkpoint."""
    from sdmbench_sdm import sddpm_import

    plugins = plugins or plugin_loader.get()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out} exists and is not empty; pick a new folder")
    theirs = sddpm_import.pick_state_dict(_load(checkpoint), key)
    found, tsm, gains = sddpm_import.infer_shape(theirs)
    if img_ch is not None and img_ch != found["img_ch"]:
        raise UsageError(f"--img-ch {img_ch} but the checkpoint's first convolution takes {found['img_ch']} channels")
    if ch is not None and ch != found["ch"]:
        raise UsageError(f"--ch {ch} but the checkpoint's first convolution has {found['ch']} channels")
    if tsm and T is not None and T != gains:
        raise UsageError(f"--T {T} but the checkpoint's TSM gains cover {gains} time steps")
    T = gains if tsm else (T or 4)
    sddpm_import.check_table(theirs, found["ch"])
    base = plugins.model.get("sdm")().preset(preset)
    backbone = dict(base.get("backbone", {}), ch=found["ch"], ch_mult=list(ch_mult), num_res_blocks=num_res_blocks)
    config = resolve(base, dict(model="sdm", neuron="tsm" if tsm else "if", dataset=dataset, preset=preset, T=T,
                                image_size=img_size, train_steps=0), {"backbone": backbone})
    shape = dict(img_ch=found["img_ch"], img_size=img_size, **config.backbone)
    net = build_backbone(config, shape, plugins)
    sddpm_import.load_into(net, theirs)
    out.mkdir(parents=True, exist_ok=True)
    state = {"model": net.state_dict(), "ema": net.state_dict(), "shape": shape}
    torch.save(state, out / STAGE_FILE)
    from sdmbench.runner import CONFIG_FILE

    write_json_atomic(out / CONFIG_FILE, config.to_dict())
    write_json_atomic(out / "imported.json", {"format": "sddpm", "source": str(checkpoint),
                                              "tsm": tsm, "T": T, "shape": shape})
    return out
