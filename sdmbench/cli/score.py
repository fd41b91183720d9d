"""``sdmbench score``: rescore finished runs under another protocol."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.cli.console import app, err, out, progress_bars, warn_failures
from sdmbench.errors import UsageError


@app.command("score")
def score_cmd(
    run_dirs: List[Path] = typer.Argument(..., help="finished run folders (each with record.json)"),
    extractor: Optional[str] = typer.Option(None, help="feature extractor", show_default="the run's own"),
    num_samples: Optional[int] = typer.Option(None, help="samples to score; more than the run kept are generated "
                                                         "from its saved weights", show_default="the run's own"),
    metrics: Optional[str] = typer.Option(None, help="metrics, comma-separated",
                                          show_default="the default metrics that read samples: fid,kid,prc"),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="extractor.NAME=VALUE: the extractor's own "
                                                 "settings (extractor.weights=PATH for inception); repeatable"),
    inception_weights: Optional[Path] = typer.Option(None, help="old name of --set extractor.weights=PATH "
                                                                "(one more release)"),
    data_root: Optional[Path] = typer.Option(None, help="folder with datasets", show_default="the run's own"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch"),
    recount_energy: bool = typer.Option(False, "--recount-energy",
                                        help="instead: sample again from the saved weights and count energy "
                                             "over the pass (every energy model); the old figures move to "
                                             "the record's 'superseded'"),
    batches: Optional[int] = typer.Option(None, help="with --recount-energy: count this many sampling batches",
                                          show_default="every batch"),
):
    """Score finished runs again under another protocol (extractor, N, metrics); the new scores join
    each record beside the old ones, which stay as they were. With --recount-energy, count the
    energy of each run's sampling pass again instead."""
    import torch

    from sdmbench.cli.run import _names
    from sdmbench.running.configure import check_extractor_options
    from sdmbench.running.recount import observing_metrics
    from sdmbench.running.rescore import check, observes_sampling, rescore
    from sdmbench.running.runner import pick_device
    from sdmbench.scoring.protocol import describe

    plugins = plugin_loader.get()
    warn_failures(plugins)
    if num_samples is not None and num_samples < 2:
        raise UsageError(f"--num-samples must be at least 2, got {num_samples}")
    options = _extractor_options(settings, inception_weights)
    names = _metric_names(plugins, _names(metrics, "--metrics"), observes_sampling)
    if extractor is not None:
        extractor = plugins.extractor.get(extractor).name
    if batches is not None and (not recount_energy or batches < 1):
        raise UsageError("--batches N (N >= 1) goes with --recount-energy")
    targets = [check(folder, num_samples) for folder in run_dirs]  # every folder checked before any work
    for t in targets:
        plugins.model.get(t.config.model)
        plugins.dataset.get(t.config.dataset)
        check_extractor_options(options, plugins.extractor.get(extractor or t.config.extractor))
        if recount_energy:
            observing_metrics(t, plugins)
    chosen_device = pick_device(device)
    if threads:
        torch.set_num_threads(threads)
    if recount_energy:
        return _recount(targets, plugins, chosen_device, batches)
    extractors: dict = {}  # built once for all the runs, each reference's features extracted once
    for t in targets:
        with progress_bars() as progress:
            entry = rescore(t, plugins, extractor or t.config.extractor, names, num_samples, chosen_device,
                            progress, err.print, str(data_root) if data_root else None,
                            options, extractors)
        run_id = t.record["run_id"]
        if entry is None:
            out.print(f"{run_id}: already scored under this protocol; the record is unchanged")
            continue
        shown = " · ".join(f"{k} {v:.4g}" for k, v in entry["metrics"].items() if isinstance(v, (int, float)))
        out.print(f"{run_id}: {shown or 'no scores'}  [protocol {entry['protocol_key']}: "
                  f"{describe(entry['protocol'])}]")


def _recount(targets, plugins, device, batches) -> None:
    from sdmbench.running.recount import recount

    for t in targets:
        with progress_bars() as progress:
            found = recount(t, plugins, device, batches, progress, err.print)
        values = found["values"]
        shown = " · ".join(f"{k} {v:.4g}" for k, v in values.items() if isinstance(v, (int, float)))
        same = "reproduced its kept samples" if found["reproduced_samples"] else "did NOT reproduce its kept samples"
        out.print(f"{t.record['run_id']}: {shown}  [{found['images']} images counted; the pass {same}]")


def _metric_names(plugins, names, observes_sampling) -> List[str]:
    """The chosen metrics, checked: each registered, none measured during sampling."""
    if names is None:
        names = [n for n in plugins.metric.defaults() if not observes_sampling(plugins.metric.get(n)())]
    checked = []
    for name in names:
        entry = plugins.metric.get(name)
        if observes_sampling(entry()):
            raise UsageError(f"metric '{entry.name}' is measured while a run samples and stays as the run "
                             "recorded it; leave it out of --metrics")
        checked.append(entry.name)
    return checked


def _extractor_options(settings: Optional[List[str]], inception_weights: Optional[Path]) -> dict:
    """``--set extractor.NAME=VALUE`` (and the old ``--inception-weights``) as the extractor's settings."""
    from sdmbench.running.config import moved, parse_settings

    given = moved(parse_settings(settings or []))
    if inception_weights is not None:
        given = moved(dict(given, inception_weights=str(inception_weights)))
    other = sorted(set(given) - {"extractor_options"})
    if other:
        raise UsageError(f"sdmbench score --set takes the extractor's settings (extractor.NAME=VALUE), got "
                         f"'{other[0]}'; a run's own settings are fixed: score it as it was made")
    return given.get("extractor_options", {})
