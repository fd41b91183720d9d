"""Issue 20's analyses (``studies/scaling/compute_scaling.py``, ``studies/scaling/variant_ablation.py``): the
power-law fit and the compute at which the SNN/ANN ratio reaches the target, on curves whose answer
is known in closed form; the ablation's rows read off the published board."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def analysis(name: str, folder: str = "scaling"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "studies" / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scaling = analysis("compute_scaling")
device_test = analysis("device_test", "board")


def curve(a: float, b: float, cs):
    xs = np.array(cs, float)
    return xs, a * xs ** b


def test_the_fit_recovers_an_exact_power_law():
    xs, ys = curve(100.0, -0.5, [1e3, 4e3, 1.6e4, 6.4e4])
    a, b = scaling.fit(xs, ys)
    assert math.exp(a) == pytest.approx(100.0) and b == pytest.approx(-0.5)


def test_the_ratio_reaches_the_target_where_the_two_power_laws_say():
    # ANN 100 C^-0.5, SNN 400 C^-0.6: ratio 4 C^-0.1, which is 2 at C = 2^10 = 1024
    cs = [16, 64, 256]
    log_c = scaling.crossing(curve(100.0, -0.5, cs), curve(400.0, -0.6, cs), target=2.0)
    assert math.exp(log_c) == pytest.approx(1024.0, rel=1e-9)


def test_a_ratio_that_does_not_shrink_never_reaches_the_target():
    cs = [16, 64, 256]
    # the SNN improves more slowly (C^-0.4 against C^-0.5): its ratio 4 C^0.1 grows with compute
    assert scaling.crossing(curve(100.0, -0.5, cs), curve(400.0, -0.4, cs), target=2.0) is None


def test_the_bootstrap_of_noiseless_curves_finds_the_crossing_in_every_usable_resample():
    cs = [16, 64, 256, 1024]
    found, never, total = scaling.bootstrap(curve(100.0, -0.5, cs), curve(400.0, -0.6, cs), 2.0, rounds=200)
    assert never == 0 and total == len(found) > 100  # a resample with one compute level has no slope: dropped
    assert np.allclose(np.exp(found), 1024.0)


#: the board of 2026-11-26 (archived): the variant study's first point was published on it
BOARD_2026_11_26 = ROOT / "leaderboard" / "archive" / "2026-11-26"


def published(model: str, neuron=None, stem: str = "spiking", study=None):
    """The record-own-protocol FIDs of the archived records of one variant, read straight off record.json."""
    import json

    out = []
    for path in sorted(BOARD_2026_11_26.glob("*/record.json")):
        r = json.loads(path.read_text())
        c = r["config"]
        if (r["model"], r.get("neuron") if r["T"] > 1 else None, c["backbone"].get("stem", "spiking"),
                c.get("study")) == (model, neuron, stem, study) and c["train_steps"] == {"sdm": 1000}.get(model, 2000):
            out.append(r["metrics"]["fid"])
    return out


def test_the_ablation_reads_the_faithful_entry_and_the_variants_off_the_archived_board():
    ablation = analysis("variant_ablation")
    rows = ablation.analyse(BOARD_2026_11_26, "sdm", "tsm", "spiking-variant", "sdm-ann")
    assert rows[0]["variant"] == "faithful (tsm, spiking stem)"
    ann = published("sdm-ann")
    by_variant = {(r["neuron"], r["stem"]): r for r in rows}
    assert list(by_variant)[0] == ("tsm", "spiking")  # the faithful entry first
    for (neuron, stem), row in by_variant.items():
        fids = published("sdm", neuron, stem, None if (neuron, stem) == ("tsm", "spiking") else "spiking-variant")
        own = next(q for p, q in row["protocols"].items() if p.startswith("classifier@"))
        assert own["seeds"] == len(fids) and own["fid_ratio"] == pytest.approx(
            (sum(fids) / len(fids)) / (sum(ann) / len(ann)), abs=0.01)
        if (neuron, stem) != ("tsm", "spiking"):
            f, v, a = (sum(x) / len(x) for x in (published("sdm", "tsm"), fids, ann))
            # the share of the faithful model's gap to the ANN that the variant closes, on the FID means
            assert own["gap_closed"] == pytest.approx((f - v) / (f - a))
    assert ("tsm", "analog") in by_variant
    assert set(rows[0]["energy"]) >= {"fp32-compute", "memory-aware"}


def same(mine, theirs, path="ablation"):
    """Equal JSON trees, floats to 1e-9 relative (the delta-method interval goes through scipy's t)."""
    assert type(mine) is type(theirs) or {type(mine), type(theirs)} <= {int, float}, path
    if isinstance(mine, dict):
        assert list(mine) == list(theirs), path
        for key in mine:
            same(mine[key], theirs[key], f"{path}.{key}")
    elif isinstance(mine, list):
        assert len(mine) == len(theirs), path
        for i, (m, t) in enumerate(zip(mine, theirs)):
            same(m, t, f"{path}[{i}]")
    elif isinstance(mine, float):
        assert mine == pytest.approx(theirs, rel=1e-9), path
    else:
        assert mine == theirs, path


def test_the_published_ablation_is_what_the_committed_board_gives():
    """docs/studies/spiking_variant.json (the study page's table and figure) re-derived from leaderboard/:
    a board that grew, or a change to how the board names an entry, without the ablation rerun fails here."""
    import json

    rows = analysis("variant_ablation").analyse(ROOT / "leaderboard", "sdm", "tsm", "spiking-variant", "sdm-ann")
    assert [(r["neuron"], r["stem"]) for r in rows] == [
        ("tsm", "spiking"), ("tsm", "analog"), ("plif", "spiking"), ("plif", "analog")]
    same(rows, json.loads((ROOT / "docs" / "studies" / "spiking_variant.json").read_text()))


@pytest.mark.parametrize("extractor, published", [("classifier-resnet", "compute_scaling"),
                                                   ("classifier", "compute_scaling_classifier")])
def test_the_published_curve_is_what_the_committed_board_gives(extractor, published):
    """docs/studies/compute_scaling*.json (the study page's curve, fits, matched ratios and crossing)
    re-derived from leaderboard/ under each pinned extractor; the fits' last digits differ between AVX2
    and AVX-512 CPUs, hence the 1e-9 tolerance."""
    import json

    args = scaling.parser().parse_args([str(ROOT / "leaderboard"), "--extractor", extractor])
    _, summary = scaling.summarise(args)
    written = json.loads(json.dumps(summary))  # as main() writes it
    same(written, json.loads((ROOT / "docs" / "studies" / f"{published}.json").read_text()))


def test_the_gap_closed_has_the_delta_method_interval_worked_by_hand():
    from scipy.stats import t

    from sdmbench.board.stats import estimate

    gap_closed = analysis("variant_ablation").gap_closed
    faithful, variant, ann = estimate([10, 12]), estimate([6, 8]), estimate([2, 4])
    share = gap_closed(faithful, variant, ann)
    # c = (11 - 7) / (11 - 3); D = 8, g = (4/64, -1/8, 4/64), s^2 = 2 each, n = 2:
    # se^2 = (1 + 4 + 1) / 256, each term's df 1, Welch-Satterthwaite df = 36 / 18 = 2
    half = t.ppf(0.975, 2) * math.sqrt(6) / 16
    assert (share.mean, share.low, share.high) == pytest.approx((0.5, 0.5 - half, 0.5 + half))
    assert gap_closed(faithful, ann, ann).mean == pytest.approx(1.0)  # the variant scores the ANN's FID
    assert gap_closed(faithful, faithful, ann).mean == pytest.approx(0.0)
    one = gap_closed(faithful, estimate([7]), ann)  # one seed: the share, no interval
    assert (one.mean, one.low, one.high, one.n) == (0.5, 0.5, 0.5, 1)
    assert gap_closed(ann, variant, faithful) is None  # no gap to close


def test_a_board_without_the_faithful_entry_is_refused(tmp_path):
    ablation = analysis("variant_ablation")
    from sdmbench.errors import UsageError

    with pytest.raises(UsageError, match="faithful sdm/tsm"):
        ablation.analyse(tmp_path, "sdm", "tsm", "spiking-variant", "sdm-ann")


@pytest.mark.parametrize("script, args, says", [
    ("variant_ablation.py", ["{tmp}/none"], "is not a folder"),
    ("variant_ablation.py", ["{tmp}"], "no faithful sdm/tsm entry"),
    ("compute_scaling.py", ["{tmp}", "--out", "{tmp}/out"], "sdm-ann: no quick-preset fashion-mnist runs"),
    ("spiking_gap.py", ["--scaling", "{tmp}/none.json", "--out", "{tmp}/gap.png"], "run python studies/scaling/compute_scaling.py"),
])
def test_the_analyses_refuse_a_board_they_cannot_read_with_one_line_and_status_2(tmp_path, script, args, says):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "studies" / "scaling" / script),
                           *(a.format(tmp=tmp_path) for a in args)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_the_ratio_at_matched_compute_is_the_ratio_of_the_mean_fids_at_each_level_both_ran_at():
    # rows: (samples seen, thread-seconds, FID, KID, steps, seed)
    found = {"ann": [(100, 0, 40.0, 0, 0, 0), (400, 0, 10.0, 0, 0, 0), (400, 0, 14.0, 0, 0, 1), (1600, 0, 5.0, 0, 0, 0)],
             "snn": [(100, 0, 60.0, 0, 0, 0), (400, 0, 30.0, 0, 0, 0), (400, 0, 42.0, 0, 0, 1), (400, 0, 36.0, 0, 0, 2)]}
    assert scaling.matched(found, "ann", "snn") == [
        {"samples_seen": 100, "fid_ratio": 1.5, "spiking_seeds": 1, "ann_seeds": 1},
        {"samples_seen": 400, "fid_ratio": 36.0 / 12.0, "spiking_seeds": 3, "ann_seeds": 2}]  # 1600: the SNN never ran


def test_the_curve_reads_each_run_under_the_chosen_pinned_extractor_and_keeps_one_device(tmp_path):
    """A study run counts energy alone and is scored afterwards: its FID is the rescoring's under the chosen
    extractor (N = 1000), read here from the record itself; a run trained on another device is not a point."""
    import json
    import shutil

    cpu = next(p for p in sorted((ROOT / "leaderboard").glob("sdm-ann-fashion-mnist-quick-*"))
               if json.loads((p / "record.json").read_text())["hardware"]["device"] == "cpu")
    gpu = ROOT / "leaderboard" / "archive" / "2026-12-04-gpu" / "sdm-ann-fashion-mnist-quick-20261204-153745-0c4d07"
    for run in (cpu, gpu):
        shutil.copytree(run, tmp_path / run.name)
    record = json.loads((cpu / "record.json").read_text())
    for extractor in ("classifier", "classifier-resnet"):
        want = [s["metrics"] for s in record["rescores"] if s["protocol"]["extractor"] == extractor][-1]
        rows = scaling.points(tmp_path, ("sdm-ann",), "fashion-mnist", extractor, "cpu")["sdm-ann"]
        assert [(r[2], r[3], r[4]) for r in rows] == [(want["fid"], want["kid"], record["config"]["train_steps"])]
    gpu_rows = scaling.points(tmp_path, ("sdm-ann",), "fashion-mnist", "classifier-resnet", "cuda")["sdm-ann"]
    assert len(gpu_rows) == 1 and gpu_rows[0][2] != rows[0][2]


def test_single_seed_points_on_two_devices_are_paired_across_their_settings():
    """Three budgets, one seed each on each device, the GPU's FID 2x the CPU's times e^+0.1, e^-0.1, e^0:
    the geometric mean ratio is exactly 2 and its 95% t-interval is 2 exp(± t(0.975, 2) 0.1 / sqrt 3)."""
    import json

    groups = {("fashion-mnist", "classifier-resnet", "sdm-ann", "-", json.dumps([{}, {"train_steps": steps}])):
              {"cuda": {0: 2 * cpu * math.exp(e)}, "cpu": {0: cpu}}
              for steps, cpu, e in ((500, 40.0, 0.1), (1000, 30.0, -0.1), (4000, 12.0, 0.0))}
    groups[("fashion-mnist", "classifier-resnet", "sdm-ann", "-", json.dumps([{}, {"train_steps": 2000}]))] = \
        {"cuda": {0: 20.0, 1: 21.0}, "cpu": {0: 19.0, 1: 22.0}}  # several seeds: Welch's table, not paired here
    row = device_test.across_settings(groups, "fid").splitlines()[-1]
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # scipy.stats.t.ppf(0.975, 2)
    assert "| 500, 1000, 4000 |" in row
    assert f"2.000 [{2 * math.exp(-half):.3f}, {2 * math.exp(half):.3f}]" in row


V1252, V1300 = "Linux-6.18.44-fc-v1252-x86_64-with-glibc2.36", "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36"


def test_two_machines_are_compared_by_welchs_test_and_named_by_what_tells_them_apart():
    """Two seeds a side, 10 and 12 against 20 and 22: t = -10 / sqrt(2/2 + 2/2), Welch's df = 2, and for
    df = 2 the two-sided p is 1 - |t| / sqrt(2 + t^2) in closed form."""
    import json

    key = ("fashion-mnist", "classifier-resnet", "sdm", "tsm", json.dumps([{}, {"train_steps": 1000}]))
    groups, pair = device_test.shortened({key: {V1252: {0: 10.0, 1: 12.0}, V1300: {2: 20.0, 3: 22.0}}},
                                         (V1252, V1300))
    assert pair == ("v1252", "v1300")
    row = device_test.table(groups, "fid", pair).splitlines()[-1]
    t = -10 / math.sqrt(2)
    assert f"| 11.00 (2) | 21.00 (2) | -10.00 | {1 - abs(t) / math.sqrt(2 + t * t):.3f} | - |" in row


def test_the_platform_split_reads_each_runs_machine_and_refuses_more_than_two(tmp_path, capsys):
    import json

    records = sorted((ROOT / "leaderboard").glob("sdm-tsm-*/record.json"))[:3]
    for record, platform in zip(records, (V1252, V1300, "Linux-other")):
        data = json.loads(record.read_text())
        data["hardware"]["platform"] = platform
        (tmp_path / data["run_id"]).mkdir()
        (tmp_path / data["run_id"] / "record.json").write_text(json.dumps(data))
    groups = device_test.runs_by_side([tmp_path], "fid", "platform")
    assert {side for by in groups.values() for side in by} == {V1252, V1300, "Linux-other"}
    with pytest.raises(SystemExit) as refused:
        device_test.sides(groups, "platform")
    assert refused.value.code == 2 and "these runs have 3" in capsys.readouterr().err


def test_the_per_level_table_gives_each_models_means_there_and_the_ratio_where_both_ran():
    from types import SimpleNamespace

    # rows: (samples seen, CPU seconds, FID, KID, steps, seed)
    found = {"ann": [(100, 10.0, 40.0, 0.4, 5, 0), (400, 40.0, 10.0, 0.1, 20, 0), (400, 44.0, 14.0, 0.2, 20, 1)],
             "snn": [(400, 90.0, 36.0, 0.3, 20, 0)]}
    summary = {"matched": scaling.matched(found, "ann", "snn")}
    lines = scaling.markdown(found, summary, SimpleNamespace(ann="ann", spiking="snn")).splitlines()
    assert lines[2] == "| 100 | 40.00 (1) | 0.400 | 10 | - | - | - | - |"
    assert lines[3] == "| 400 | 12.00 (2) | 0.150 | 42 | 36.00 (1) | 0.300 | 90 | 3.00x |"


def test_the_ratios_slope_is_the_difference_of_the_fitted_exponents_in_every_resample():
    cs = [1e3, 4e3, 1.6e4, 6.4e4]
    slopes = scaling.slope_bootstrap(curve(100.0, -0.5, cs), curve(400.0, -0.6, cs), rounds=200)
    assert 0 < len(slopes) <= 200 and np.allclose(slopes, -0.1)  # noiseless: every resample's slopes are exact


def test_the_ann_reaches_the_spiking_presets_fid_where_its_power_law_says():
    """ANN FID = 100 C^-0.5 reaches the spiking preset's mean FID of 10 at C = (100 / 10)^2 = 100 samples,
    1/40 of the spiking preset's 4000 (the level with the most runs)."""
    from types import SimpleNamespace

    ann = [(c, 0.0, 100.0 * c ** -0.5, 0.0, 0, 0) for c in (1e3, 4e3, 1.6e4)]
    snn = [(4e3, 0.0, 9.0, 0.0, 0, 0), (4e3, 0.0, 11.0, 0.0, 0, 1), (1.6e4, 0.0, 6.0, 0.0, 0, 0)]
    summary = {"models": {"ann": {"fid_fit": {}}, "snn": {"fid_fit": {}}}}
    out = scaling.crossing_summary({"ann": ann, "snn": snn}, summary, SimpleNamespace(ann="ann", spiking="snn", target=2.0))
    assert out["ann_compute_for_spiking_preset_fid"] == pytest.approx(100 / 4000)
    b_snn = np.polyfit(np.log([4e3, 4e3, 1.6e4]), np.log([9.0, 11.0, 6.0]), 1)[0]
    assert out["ratio_slope"] == pytest.approx(b_snn + 0.5)
