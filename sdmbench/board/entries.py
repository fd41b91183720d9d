"""Leaderboard entries: runs that differ only in their seed, as one entry.

A record is seen once per protocol it was scored under (:func:`views`: its
own scores, then each of ``sdmbench score``'s rescorings). Views of one
dataset and protocol whose configs agree on every field that shapes the
method are one entry (:func:`entries`); the fields that do not shape it
are the seed, where and how fast it ran, and how it is scored (the protocol
already separates those). Each entry carries, per value, the mean over its
seeds and the 95% interval (:mod:`sdmbench.board.stats`), for every value the
installed metrics show (:mod:`sdmbench.scoring.columns`); the ranking
column (FID) ranks them. The unit is the seed, not the run: runs of one
seed (a rerun, the same seed on another machine) are one draw of the
seed's randomness, so they are averaged into one value (:func:`per_seed`)
and counted once; counting them apart would narrow the interval with no
new evidence.

An entry whose method fields differ from its model's preset (a run with
800 training steps under the quick preset, say) is a *trial*: listed
apart, never ranked. Its model, neuron and the model's own options (a
conversion model's ``fine_tune``) name the entry and do not make it a
trial. Runs whose training diverged are listed apart too.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from sdmbench.running.config import RunConfig
from sdmbench.errors import UsageError
from sdmbench.scoring import columns as shown
from sdmbench.scoring.columns import Column
from sdmbench.board.stats import Estimate, estimate, holm, rank_ranges, rank_text, ratio, welch_p

#: config fields that name an entry (not a trial when they differ from the preset's)
IDENTITY = ("model", "neuron", "dataset", "preset", "options")
#: config fields that do not shape the method: the seed, the machine, and the scoring (the protocol's)
NOT_METHOD = ("seed", "device", "threads", "data_root", "results_dir", "checkpoint_every", "sample_batch_size",
              "divergence_factor", "sync_bn", "init_from", "extractor_options", "extractor", "metrics",
              "num_samples", "reference_images", "study", "log_every", "sample_every")
RANKED, TRIAL, DIVERGED = "ranked", "trial", "diverged"


def normal(config: Dict[str, Any]) -> Dict[str, Any]:
    """A config as the current :class:`~sdmbench.running.config.RunConfig` reads it, in JSON types (settings
    older records kept at the top level move under ``options``; tuples become lists)."""
    return json.loads(json.dumps(RunConfig.from_dict(config).to_dict(), default=str))


def views(record: Dict[str, Any], columns: Sequence[Column]) -> List[Dict[str, Any]]:
    """The record once per protocol: its own scores, then each rescoring's (with the values of the run's own
    sampling pass, ``columns`` of the run: its energy). A run that counted energy alone (no extractor) and
    was scored afterwards shows only under those scorings."""
    if record.get("config"):
        record = dict(record, config=normal(record["config"]))
    scored_later = not (record.get("protocol") or {}).get("extractor") and record.get("rescores")
    own = [] if scored_later else [record]
    for rescored in record.get("rescores", []):
        kept = {c.key for c in shown.of_runs(columns)}
        metrics = {k: v for k, v in record["metrics"].items() if k in kept}
        own.append(dict(record, protocol=rescored["protocol"], protocol_key=rescored["protocol_key"],
                        metrics={**metrics, **rescored["metrics"]}))
    return own


def method(config: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in config.items() if k not in NOT_METHOD and k not in IDENTITY}


def leaves(settings: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested settings as the dotted keys ``--set`` takes: ``{"backbone": {"stem": "analog"}}`` becomes
    ``{"backbone.stem": "analog"}``; an empty mapping stays a value of its own key."""
    flat: Dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(leaves(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def off_preset(config: Dict[str, Any], preset: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The method settings where ``config`` leaves ``preset``, as dotted keys of the leaves that differ
    (``backbone.stem=analog``, not the whole backbone; everything, when the preset is unknown)."""
    if preset is None:
        return {"preset": "unknown (its model is not installed, or refuses these options)"}
    mine, theirs = leaves(method(config)), leaves(method(preset))
    return {k: v for k, v in sorted(mine.items()) if theirs.get(k) != v}


@dataclass
class Entry:
    dataset: str
    protocol_key: str
    protocol: Dict[str, Any]
    model: str
    neuron: Optional[str]
    options: Dict[str, Any]  # the model's own settings that differ from its preset's
    section: str
    records: List[Dict[str, Any]]
    changes: Dict[str, Any] = field(default_factory=dict)  # a trial's settings off its preset
    values: Dict[str, Optional[Estimate]] = field(default_factory=dict)
    rank: str = "-"
    versus: Dict[str, Any] = field(default_factory=dict)  # ratios to the baseline entry, Welch's p

    @property
    def label(self) -> str:
        """The model's name, with its own options where they differ from its preset's."""
        return self.model + "".join(f" {k}={json.dumps(v)}" for k, v in sorted(self.options.items()))

    @property
    def name(self) -> str:
        """The label with the neuron: ``model/neuron`` (``sdm/tsm``, one of the entries a model has per
        neuron) and the label's options; a model without neurons (an ANN twin) is its label."""
        return self.label if not self.neuron else self.label.replace(self.model, f"{self.model}/{self.neuron}", 1)

    def named(self, name: str) -> bool:
        """Whether ``name`` names this entry: its :attr:`label` or its :attr:`name`."""
        return name in (self.label, self.name)

    @property
    def seeds(self) -> List[int]:
        """The distinct seeds of its runs, sorted: the ``n`` of every interval."""
        return sorted({seed_of(r) for r in self.records})

    @property
    def repeated(self) -> Dict[int, List[str]]:
        """The seeds that more than one run holds, each with those runs' ids."""
        runs = defaultdict(list)
        for r in self.records:
            runs[seed_of(r)].append(r["run_id"])
        return {seed: ids for seed, ids in sorted(runs.items()) if len(ids) > 1}

    @property
    def studies(self) -> List[str]:
        """The named studies (sweep files' ``study``) its runs were made for."""
        return sorted({(r.get("config") or {}).get("study") for r in self.records} - {None})

    @property
    def first(self) -> Dict[str, Any]:
        return self.records[0]


def seed_of(record: Dict[str, Any]) -> int:
    return (record.get("config") or {}).get("seed", 0)


def per_seed(records: Sequence[Dict[str, Any]], key: str) -> List[float]:
    """One value of metric ``key`` per seed, in seed order: the mean over that seed's runs that have it
    (runs without it are left out; a seed none of whose runs has it gives no value)."""
    by_seed = defaultdict(list)
    for r in records:
        value = r["metrics"].get(key)
        if value is not None:
            by_seed[seed_of(r)].append(float(value))
    return [sum(xs) / len(xs) for _, xs in sorted(by_seed.items())]


def _key(view: Dict[str, Any], model: str) -> tuple:
    config = view.get("config") or {"run": view["run_id"]}  # a record without its config stands alone
    blob = json.dumps([model, view.get("neuron"), config.get("options") or {}, method(config)],
                      sort_keys=True, default=str)
    return view["dataset"], view["protocol_key"], bool(view.get("diverged")), blob


def _preset(first: Dict[str, Any], config: Dict[str, Any], preset_of) -> Optional[Dict[str, Any]]:
    """The preset config ``first`` is compared with: ``preset_of``'s, normalised (None: unknown), or,
    without ``preset_of`` or a config, the config itself (nothing is off its preset)."""
    if not (preset_of and config):
        return config
    found = preset_of(first)
    return normal(found) if found else None


def entries(records: List[Dict[str, Any]], dataset: Optional[str] = None,
            aliases: Optional[Dict[str, str]] = None,
            preset_of: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]] = None,
            baseline: Optional[str] = None, columns: Optional[Sequence[Column]] = None,
            lead: Optional[str] = None) -> List[Entry]:
    """Every entry, sorted by dataset, protocol (``lead``'s first, the registry's default extractor; then by
    extractor, then N), section, rank; ``aliases`` maps
    deprecated model names to current ones, ``preset_of(record)`` gives the config its model's preset would make (None: unknown;
    without it no entry is a trial); ``baseline``: the label of a ranked entry that every entry of its
    dataset and protocol is compared with (:func:`compare`); ``columns``: the values estimated (default:
    the installed metrics', :func:`sdmbench.scoring.columns.installed`)."""
    columns = shown.installed() if columns is None else tuple(columns)
    aliases, groups = aliases or {}, defaultdict(list)
    for record in records:
        model = aliases.get(record["model"], record["model"])
        for view in views(dict(record, model=model), columns):
            if dataset is None or view.get("dataset") == dataset:
                groups[_key(view, model)].append(view)
    out = []
    for (ds, key, diverged, _), members in groups.items():
        members.sort(key=lambda r: (seed_of(r), r["run_id"]))
        first, config = members[0], members[0].get("config") or {}
        preset = _preset(first, config, preset_of)
        changes = off_preset(config, preset)
        known = (preset or {}).get("options") or {}
        options = {k: v for k, v in (config.get("options") or {}).items() if k in known and known[k] != v}
        section = DIVERGED if diverged else TRIAL if changes else RANKED
        entry = Entry(ds, key, first["protocol"], first["model"], first.get("neuron"), options, section,
                      members, changes)
        entry.values = {c.key: estimate(per_seed(members, c.key)) for c in columns}
        out.append(entry)
    by = shown.ranking(columns)
    _rank(out, by)
    if baseline:
        compare(out, baseline, columns)
    order = {RANKED: 0, TRIAL: 1, DIVERGED: 2}
    return sorted(out, key=lambda e: (e.dataset, e.protocol.get("extractor") != lead, str(e.protocol.get("extractor")),
                                      e.protocol.get("num_samples") or 0, e.protocol_key, order[e.section],
                                      _sort_value(e, by), e.model))


def seed_holders(record: Dict[str, Any], board: List[Dict[str, Any]],
                 aliases: Optional[Dict[str, str]] = None) -> List[str]:
    """The runs of ``board`` that would count as the same seed of the same entry as ``record``, under any
    protocol (the ids of the other runs of its seed in every entry it joins); ``[]``: it adds a seed."""
    held = set()
    for e in entries(board + [record], aliases=aliases, columns=()):
        if any(r["run_id"] == record["run_id"] for r in e.records):
            held.update(r["run_id"] for r in e.records if seed_of(r) == seed_of(record))
    return sorted(held - {record["run_id"]})


def _sort_value(e: Entry, by: Optional[Column]) -> float:
    value = e.values.get(by.key) if by else None
    if value is None:
        return float("inf")
    return -value.mean if by.lower_is_better is False else value.mean


def _rank(all_entries: List[Entry], by: Optional[Column]) -> None:
    """Rank ranges by the ranking column's interval (FID) among the ranked entries of each dataset and
    protocol (lower is better, unless the column says otherwise); without a ranking column, no ranks."""
    groups = defaultdict(list)
    for e in all_entries:
        if by and e.section == RANKED and e.values.get(by.key) is not None:
            groups[(e.dataset, e.protocol_key)].append(e)
    for members in groups.values():
        bounds = [(e.values[by.key].low, e.values[by.key].high) for e in members]
        ranges = rank_ranges([(-hi, -lo) if by.lower_is_better is False else (lo, hi) for lo, hi in bounds])
        for e, (best, worst) in zip(members, ranges):
            e.rank = rank_text(best, worst)


def compare(all_entries: List[Entry], baseline: str, columns: Sequence[Column]) -> None:
    """Each entry's ratio to the ranked entry labelled ``baseline`` in its dataset and protocol
    (:func:`sdmbench.board.stats.ratio`) for every compared column, and Welch's p-value that their means of the
    ranking column (FID) are equal; the ranked entries' p-values, one family per dataset and protocol, also
    Holm-adjusted (``fid_p_holm``). ``versus`` holds the ratios under the column's key, the p-values under
    ``<field>_p`` and ``<field>_p_holm``."""
    by, keys = shown.ranking(columns), [c.key for c in shown.compared(columns)]
    bases: Dict[tuple, Entry] = {}
    for e in all_entries:
        if e.section == RANKED and e.named(baseline):
            other = bases.setdefault((e.dataset, e.protocol_key), e)
            if other is not e:
                raise UsageError(f"--baseline '{baseline}' names two entries ({other.name}, {e.name}); "
                                 "name one as MODEL/NEURON")
    for e in all_entries:
        base = bases.get((e.dataset, e.protocol_key))
        if base is None:
            continue
        if e is base:
            e.versus = {key: Estimate(1.0, 1.0, 1.0, len(e.seeds), None) for key in keys}
            continue
        for key in keys:
            mine, theirs = e.values.get(key), base.values.get(key)
            e.versus[key] = ratio(mine, theirs) if mine and theirs else None
        if by:
            mine, theirs = e.values.get(by.key), base.values.get(by.key)
            e.versus[f"{by.field}_p"] = welch_p(mine, theirs) if mine and theirs else None
    if not by:
        return
    for (dataset, key), base in bases.items():  # the family: every ranked entry tested against one baseline
        family = [e for e in all_entries if e.section == RANKED and e is not base
                  and (e.dataset, e.protocol_key) == (dataset, key)]
        for e, adjusted in zip(family, holm([e.versus.get(f"{by.field}_p") for e in family])):
            e.versus[f"{by.field}_p_holm"] = adjusted
