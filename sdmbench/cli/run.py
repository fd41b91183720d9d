"""``sdmbench run``: train, sample, score and record one model."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.cli.console import app, err, out, progress_bars, warn_failures
from sdmbench.errors import UsageError
from sdmbench.running.records import RECORD_FILE


PRESET = "the preset's"


def _opt(text: str, default: str):
    """An option that is None unless given, whose help shows the default it stands for."""
    return typer.Option(None, help=text, show_default=default)


@app.command("run")
def run_cmd(
    model: Optional[str] = _opt("model recipe (sdmbench plugins)", "the registry's default model"),
    neuron: Optional[str] = _opt("spiking neuron", PRESET),
    dataset: Optional[str] = typer.Option(None, help="dataset name (required unless --resume)"),
    preset: Optional[str] = _opt("smoke (tests, a minute on 2 CPU cores), quick (~15 min), paper (GPU)", "smoke"),
    split: Optional[str] = _opt("training/reference split: train or test", "train"),
    T: Optional[int] = typer.Option(None, "--T", help="spiking time steps", show_default=PRESET),
    threshold: Optional[float] = _opt("firing threshold v_th at inference (training uses 1.0)", "1.0"),
    sampler: Optional[str] = _opt("sampler of the model's process", PRESET),
    sample_steps: Optional[int] = _opt("denoising steps when sampling", PRESET),
    temperature: Optional[float] = _opt("old name of --set process.temperature=T (one more release)", "1.0"),
    num_samples: Optional[int] = _opt("images generated for scoring", PRESET),
    train_steps: Optional[int] = _opt("optimiser steps", PRESET),
    batch_size: Optional[int] = _opt("training batch size", PRESET),
    metrics: Optional[str] = _opt("metrics to score, comma-separated", "the default metrics: fid,kid,prc,energy"),
    extractor: Optional[str] = _opt("FID feature extractor", "the preset's, else the registry's default"),
    inception_weights: Optional[Path] = _opt("old name of --set extractor.weights=PATH (one more release)",
                                             "downloaded"),
    seed: Optional[int] = _opt("random seed", "0"),
    seeds: Optional[str] = typer.Option(None, help="several seeds, one run each, e.g. 0,1,2 or 0-4; the "
                                                   "leaderboard shows them as one entry with a 95% interval"),
    device: Optional[str] = _opt("auto, cpu or cuda", "auto"),
    threads: Optional[int] = _opt("CPU threads for torch", "torch's choice"),
    data_root: Optional[Path] = _opt("folder with datasets", "$SDMBENCH_DATA, then known places"),
    results_dir: Optional[Path] = _opt("where records go", "$SDMBENCH_RESULTS, else ./results"),
    resume: Optional[Path] = typer.Option(None, help="a run folder: reuse its config and its finished stages"),
    rerun: Optional[str] = typer.Option(None, help="with --resume: train this stage (and later ones) again"),
    init_from: Optional[Path] = typer.Option(None, help="a finished run to fine-tune (e.g. --neuron tsm from an if "
                                                        "run); its settings, 1/10 of its training steps"),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="KEY=VALUE for any config setting, dotted "
                                                 "for nested ones and a plugin's own (backbone.ch=64, "
                                                 "neuron.tau=2, process.temperature=0.9, extractor.weights=PATH), "
                                                 "or one of the model's own (bits=3); repeatable"),
):
    """Train, sample, score and record one model."""
    from sdmbench.running.config import parse_settings
    from sdmbench.running.configure import configure
    from sdmbench.running.records import read_config as saved_config
    from sdmbench.running.runner import check_saved_state, execute

    plugins = plugin_loader.get()
    warn_failures(plugins)
    overrides = dict(model=model, neuron=neuron, dataset=dataset, preset=preset, split=split, T=T,
                     threshold=threshold, sampler=sampler, sample_steps=sample_steps, temperature=temperature,
                     num_samples=num_samples, train_steps=train_steps, batch_size=batch_size, extractor=extractor,
                     metrics=_names(metrics, "--metrics"),
                     inception_weights=str(inception_weights) if inception_weights else None, seed=seed,
                     device=device, threads=threads, data_root=str(data_root) if data_root else None,
                     results_dir=str(results_dir) if results_dir else None)
    if rerun and not resume:
        raise UsageError("--rerun goes with --resume RUN_DIR")
    if init_from and resume:
        raise UsageError("--init-from starts a new run; --resume continues one: pass only one of them")
    base = None
    if init_from:
        base = saved_config(init_from, "--init-from")
        if not (init_from / "stage-train.pt").is_file():
            raise UsageError(f"--init-from {init_from}: no stage-train.pt there; pass a finished run folder")
        check_saved_state(init_from, "--init-from")
        base["train_steps"] = max(1, int(base.get("train_steps", 10)) // 10)  # the paper: < 1/10 of training
        overrides["init_from"] = str(init_from)
        overrides["results_dir"] = overrides["results_dir"] or str(init_from.parent)
    elif resume:
        base = saved_config(resume)
        check_saved_state(resume)
        overrides["results_dir"] = overrides["results_dir"] or str(resume.parent)
    chosen = parse_seeds(seeds, seed, resume or init_from)
    configs = [configure(plugins, dict(overrides, seed=s), parse_settings(settings), base=base) for s in chosen]
    if resume is not None and not rerun and (resume / RECORD_FILE).is_file():
        _refuse_a_duplicate(resume, configs[0])
    if resume is None and os.environ.get("RANK", "0") == "0":
        _note_repeated_seeds(configs)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 alone reports
        for config in configs:
            execute(config, progress=None, plugins=plugins, log=lambda *a: None, resume=resume, rerun=rerun)
        return
    records = []
    for config in configs:
        if len(configs) > 1:
            err.print(f"seed {config.seed} ({len(records) + 1} of {len(configs)})")
        with progress_bars() as progress:
            result = execute(config, progress=progress, plugins=plugins, log=err.print, resume=resume,
                             rerun=rerun)
        records.append(result.record)
        out.print(_summary(result.record))
        out.print(f"record: {result.folder / RECORD_FILE}")
        out.print(f"samples: {result.folder / 'samples.png'}")
    if len(records) > 1:
        out.print(_over_seeds(records))


def _note_repeated_seeds(configs) -> None:
    """A note, before any training, for each seed that a finished run of the same configuration in the
    results folder already holds: the leaderboard counts a seed once (the mean of its runs), so a second
    run of it adds no seed. A note, not an error: rerunning a seed (another machine, a check) is legitimate."""
    from sdmbench.board.entries import IDENTITY, method, normal
    from sdmbench.running.records import load_records

    def what(config):
        return [config.get(k) for k in IDENTITY], method(config)

    held = {}
    for record in load_records(Path(configs[0].results_dir))[0]:
        if record.get("config"):
            config = normal(record["config"])
            held.setdefault((json_key(what(config)), config.get("seed", 0)), record["run_id"])
    for config in configs:
        mine = normal(config.to_dict())
        run_id = held.get((json_key(what(mine)), config.seed))
        if run_id:
            err.print(f"note: {config.results_dir} already holds seed {config.seed} of this configuration "
                      f"({run_id}); the leaderboard counts a seed once, as the mean of its runs: --seeds N "
                      "runs another", markup=False)


def json_key(value) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


#: config fields that say where and how fast a run ran, not what it computes
WHERE = ("results_dir", "device", "threads", "data_root")


def _refuse_a_duplicate(resume: Path, config) -> None:
    """``--resume`` of a finished run with nothing changed, into its own folder, would only copy it."""
    from sdmbench.running.config import RunConfig
    from sdmbench.running.records import read_config as saved_config

    saved = RunConfig.from_dict(saved_config(resume)).to_dict()
    new = config.to_dict()
    same = all(new[k] == saved.get(k) for k in new if k not in WHERE)
    if same and Path(config.results_dir).resolve() == resume.parent.resolve():
        raise UsageError(f"--resume {resume}: the run is finished and nothing was changed, so this would only "
                         "make a copy of it; score it again with sdmbench score, sample it under other settings "
                         "(--num-samples, --sampler, --threshold...), or train a stage again with --rerun STAGE")


def parse_seeds(text: Optional[str], seed: Optional[int], existing) -> List[Optional[int]]:
    """``--seeds 0,1,2`` or ``0-4`` as a list (``[seed]`` without it)."""
    if text is None:
        return [seed]
    if seed is not None:
        raise UsageError("pass --seed N or --seeds LIST, not both")
    if existing:
        raise UsageError("--seeds starts new runs; it does not go with --resume or --init-from")
    chosen = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, dash, high = part.partition("-")
        try:
            if dash and int(high) < int(low):
                raise UsageError(f"--seeds range '{part}' runs backwards; write it low-high, e.g. {high}-{low}")
            chosen += list(range(int(low), int(high) + 1)) if dash else [int(part)]
        except ValueError:
            raise UsageError(f"--seeds takes whole numbers and ranges, e.g. 0,1,2 or 0-4; got '{text}'") from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise UsageError(f"--seeds needs distinct seeds, e.g. 0,1,2; got '{text}'")
    return chosen


def _over_seeds(records: List[dict]) -> str:
    """The headline values over the seeds: mean ± half-width of the 95% interval."""
    from sdmbench.scoring.columns import installed
    from sdmbench.board.stats import estimate

    parts = []
    for column in (c for c in installed() if c.headline):
        est = estimate([r["metrics"].get(column.key) for r in records])
        if est is not None:
            parts.append(f"{column.header} {est.mean:.4g} ± {est.half_width:.2g}")
    return f"over {len(records)} seeds (mean ± 95% interval): " + " · ".join(parts)


def _names(text: Optional[str], flag: str) -> Optional[List[str]]:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{flag} takes names separated by commas, got '{text}'")
    return names


def _summary(record: dict) -> str:
    """The closing line: the values the installed metrics summarise (their columns' ``summary``), and how
    many more the record holds."""
    from sdmbench.scoring.columns import installed

    m = {k: v for k, v in record["metrics"].items() if v is not None}
    shown = [c.text(m[c.key]) for c in installed() if c.summary and c.key in m]
    more = len(m) - len(shown)
    features = f" ({record['protocol']['extractor']} features)" if record["protocol"]["extractor"] else ""
    return f"{' · '.join(shown) or 'no scores'}{features}" + (f"; {more} more values in the record" if more else "")
