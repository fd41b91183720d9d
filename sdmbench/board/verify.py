"""Re-deriving a published board: ``sdmbench verify PATH...`` and ``sdmbench publish``.

Every number a board publishes is recomputed from what it keeps:

- a run's FID, KID, precision and recall, per protocol it was scored under
  (its own and each rescoring), from its ``samples.npz`` through that
  protocol's extractor; the extractor here must have the protocol's weights
  version (pinned weights travel with sdmbench). Values agree when
  ``|published - recomputed| <= RTOL * |published| + ATOL``: scoring with
  the same weights is the same to about 1e-6 relative on every CPU kind
  (``studies/extractors/validate.py``), far inside RTOL;
- a run's energy under every energy model, from its per-layer counts and
  the model's prices;
- each entry's mean, interval and rank range: ``README.md`` of a board
  folder must equal ``sdmbench leaderboard --format markdown`` over its
  records, character for character.

A run published before samples were kept, or scored by weights that exist
nowhere now, is *not re-derivable*: reported, not a mismatch; so is a
board's table that differs where a run was made with plugins not installed
here (a metric it ran, or its model or neuron before records kept their
preset).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from sdmbench.errors import UsageError

RTOL, ATOL = 1e-4, 1e-9
BOARD_FILE = "README.md"
MATCH, MISMATCH, UNDERIVABLE = "match", "MISMATCH", "not re-derivable"


@dataclass
class Finding:
    where: str  # a run id, or the board file
    what: str  # the value (``fid @ classifier@1234``) or check
    status: str
    published: Any = None
    recomputed: Any = None

    def line(self) -> str:
        values = f": published {self.published}, recomputed {self.recomputed}" if self.status == MISMATCH \
            else (f": {self.recomputed}" if self.status == UNDERIVABLE and self.recomputed else "")
        return f"{self.status:>16}  {self.where}  {self.what}{values}"


def close(published: Any, recomputed: Any) -> bool:
    if not isinstance(published, (int, float)) or not isinstance(recomputed, (int, float)):
        return published == recomputed
    if not (math.isfinite(published) and math.isfinite(recomputed)):
        return published == recomputed
    return abs(published - recomputed) <= RTOL * abs(published) + ATOL


def run_folders(paths: Iterable[Path]) -> List[Path]:
    """The run folders (holding ``record.json``) at or directly under each path."""
    from sdmbench.running.records import RECORD_FILE

    found = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"verify: no such file or folder {path}")
        if (path / RECORD_FILE).is_file():
            found.append(path)
        else:
            found += sorted(p for p in path.iterdir() if (p / RECORD_FILE).is_file())
    if not found:
        raise UsageError(f"verify: no run folders (with record.json) in {', '.join(map(str, paths))}")
    return found


def compare(where: str, label: str, published: Dict[str, Any], recomputed: Dict[str, Any]) -> List[Finding]:
    """A finding per value both sides hold."""
    return [Finding(where, f"{key} @ {label}", MATCH if close(published[key], recomputed[key]) else MISMATCH,
                    published[key], recomputed[key])
            for key in sorted(published) if key in recomputed and isinstance(published[key], (int, float))]


def verify_energy(record: Dict[str, Any], models: Dict[str, Any]) -> List[Finding]:
    """Each energy model's mJ/image, priced again from the record's per-layer counts."""
    from sdmbench.energy.details import VALUE, EnergyDetails
    from sdmbench.energy.records import layers_of

    stored = EnergyDetails.of(record).models
    out = []
    for name, model in models.items():
        if name not in stored:
            continue
        layers = layers_of(record, model)
        if layers is None:
            out.append(Finding(record["run_id"], f"energy @ {name}", UNDERIVABLE, stored[name], "no layer counts"))
            continue
        again = model.price(layers).total_j * 1e3
        out += compare(record["run_id"], f"energy model {name}", {VALUE: stored[name][VALUE]}, {VALUE: again})
    return out


def feature_metrics(plugins, view: Dict[str, Any]) -> Dict[str, Any]:
    """The registered metrics a view was scored with that read samples: those its protocol lists settings
    for, and those whose name is one of its values (``fid``)."""
    from sdmbench.running.rescore import observes_sampling

    settings = view["protocol"].get("metric_settings") or {}
    out = {}
    for name in plugins.metric.names():
        metric = plugins.metric.get(name)()
        if not observes_sampling(metric) and (name in settings or name in view["metrics"]):
            out[name] = metric
    return out


class Scorer:
    """Datasets and extractors, loaded once for many runs."""

    def __init__(self, plugins, data_root: Optional[str] = None):
        self.plugins, self.data_root, self.data, self.extractors = plugins, data_root, {}, {}

    def dataset(self, name: str, split: str, size: int):
        key = (name, split, size)
        if key not in self.data:
            self.data[key] = self.plugins.dataset.get(name)(self.data_root, split, size)
        return self.data[key]

    def extractor(self, name: str, data):
        key = (name, data.name, data.image_size)
        if key not in self.extractors:
            from sdmbench.scoring.extractor import CachedExtractor

            self.extractors[key] = CachedExtractor(self.plugins.extractor.get(name)(data, device="cpu"))
        return self.extractors[key]


def verify_view(run_id: str, view: Dict[str, Any], config, samples, scorer: Scorer) -> List[Finding]:
    """One protocol's published scores of one run, scored again from its samples."""
    from sdmbench.scoring.evaluate import evaluate, protocol_for
    from sdmbench.scoring.metric import Scores
    from sdmbench.scoring.protocol import describe, protocol_key

    protocol = view["protocol"]
    label = f"{protocol['extractor']}@{str(protocol['extractor_version'])[:8]}"
    if samples is None:
        return [Finding(run_id, label, UNDERIVABLE, recomputed="no samples.npz (published before samples were kept)")]
    n = protocol["num_samples"]
    if len(samples) < n:
        return [Finding(run_id, label, UNDERIVABLE, recomputed=f"samples.npz holds {len(samples)} of its {n} samples")]
    data = scorer.dataset(protocol["dataset"], protocol["reference_split"], protocol["image_size"])
    try:
        extractor = scorer.extractor(protocol["extractor"], data)
    except UsageError as exc:
        return [Finding(run_id, label, UNDERIVABLE, recomputed=str(exc))]
    if extractor.version != protocol["extractor_version"]:
        return [Finding(run_id, label, UNDERIVABLE,
                        recomputed=f"its weights are gone: this sdmbench has {protocol['extractor']}@{extractor.version[:8]}")]
    metrics = feature_metrics(scorer.plugins, view)
    again = protocol_for(n, data, dataclasses.replace(config, reference_images=protocol["reference_images"]),
                         extractor, metrics, protocol.get("sampler_options") or {})
    found = [Finding(run_id, f"protocol @ {label}", MATCH if protocol_key(again) == view["protocol_key"] else MISMATCH,
                     view["protocol_key"], f"{protocol_key(again)} ({describe(again)})")]
    _, scores = evaluate(again, samples[:n], data, extractor, metrics, sampling={"steps": config.sample_steps})
    return found + compare(run_id, label, view["metrics"], Scores.flat(scores))


def load_run(folder: Path, scorer: Optional[Scorer] = None) -> Tuple[Dict[str, Any], Any, Any]:
    """``(record, config, samples)`` of one run folder, read and checked (a corrupt record, a corrupt
    ``samples.npz``, samples of another size than the run was scored on or, with ``scorer``, of other
    channels than its dataset's: a one-line error)."""
    from sdmbench.running.config import RunConfig
    from sdmbench.running.records import read_record
    from sdmbench.running.rescore import SAMPLES_FILE, check_size, read_samples, remedy

    record = read_record(folder, "verify")
    config = RunConfig.from_dict(record.get("config") or {})
    samples = read_samples(folder / SAMPLES_FILE)
    check_size(samples, record, folder / SAMPLES_FILE)
    protocol = record.get("protocol") or {}
    scored = any((r.get("protocol") or {}).get("extractor") for r in [record] + record.get("rescores", []))
    if scorer is not None and samples is not None and scored:
        data = scorer.dataset(protocol["dataset"], protocol["reference_split"], protocol["image_size"])
        if samples.shape[1] != data.channels:
            raise UsageError(f"{folder / SAMPLES_FILE}: holds {samples.shape[1]}-channel images, but "
                             f"{data.name} has {data.channels}; these are not the samples its scores came from; "
                             f"{remedy(folder / SAMPLES_FILE)}")
    return record, config, samples


def verify_run(folder: Path, scorer: Scorer, energy_models: Dict[str, Any], loaded=None) -> List[Finding]:
    """Every published number of one run folder, recomputed (``loaded``: its :func:`load_run`, if read)."""
    record, config, samples = loaded or load_run(folder, scorer)
    views = [dict(protocol=record["protocol"], protocol_key=record.get("protocol_key"), metrics=record["metrics"])]
    views += [dict(r) for r in record.get("rescores", [])]
    found = []
    for view in views:
        if view["protocol"].get("extractor"):
            found += verify_view(record.get("run_id", folder.name), view, config, samples, scorer)
    return found + verify_energy(record, energy_models)


def verify_board(folder: Path, markdown: str, elsewhere: Sequence[str] = ()) -> List[Finding]:
    """The board's entry table (means, intervals, rank ranges) against its records; a table that differs
    where runs made with plugins not installed here (``elsewhere``) are on it is not re-derivable here."""
    board = folder / BOARD_FILE
    if not board.is_file():
        return []
    published, what = board.read_text(), "entries: means, intervals, rank ranges"
    if published == markdown:
        return [Finding(str(board), what, MATCH)]
    if elsewhere:
        runs = ", ".join(elsewhere[:3]) + (f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else "")
        return [Finding(str(board), what, UNDERIVABLE, recomputed=(
            f"{runs}: made with plugins not installed here (a metric it ran, or, before records kept their "
            "preset, its model or neuron); install the plugins its record names to check the table"))]
    lines = [(a, b) for a, b in zip(published.splitlines(), markdown.splitlines()) if a != b]
    first = lines[0] if lines else ("(length)", f"{len(published)} vs {len(markdown)} characters")
    return [Finding(str(board), what, MISMATCH, first[0][:200], first[1][:200])]
