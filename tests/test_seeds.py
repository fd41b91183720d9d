"""Seeds as an axis: ``--seeds`` runs each, the leaderboard makes them one entry."""
import json
import re

import pytest

from sdmbench.cli.run import parse_seeds
from sdmbench.errors import UsageError
from sdmbench.board.stats import estimate, rank_ranges

from conftest import SHARED_DATA, needs_shared_mnist, run_cli

TINY = ["--model", "sdm-ann", "--data-root", str(SHARED_DATA), "--dataset", "mnist", "--split", "test",
        "--preset", "smoke", "--train-steps", "2", "--num-samples", "8", "--sample-steps", "2",
        "--metrics", "fid,energy", "--set", "sample_batch_size=8", "--set", "reference_images=64",
        "--threads", "1"]


@needs_shared_mnist
def test_two_seeds_are_two_runs_and_one_leaderboard_entry(tmp_path):
    code, out, err = run_cli("run", *TINY, "--seeds", "0-1", "--results-dir", str(tmp_path))
    assert code == 0, err[-2000:]
    records = sorted((json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")),
                     key=lambda r: r["config"]["seed"])
    assert [r["config"]["seed"] for r in records] == [0, 1]
    fids = [r["metrics"]["fid"] for r in records]
    assert fids[0] != fids[1] and "over 2 seeds" in out
    code, out, err = run_cli("leaderboard", "--results-dir", str(tmp_path), "--format", "json")
    [entry] = json.loads(out)
    expected = estimate(fids)  # t(0.975, 1) = 12.7062: mean ± 12.7062 |a - b| / 2
    assert entry["seeds"] == 2 and not entry["single_seed"] and entry["seed_list"] == [0, 1]
    assert entry["fid"] == round(sum(fids) / 2, 2)
    assert entry["fid_ci_high"] - entry["fid_ci_low"] == pytest.approx(12.7062 * abs(fids[0] - fids[1]), rel=1e-4)
    assert entry["fid_ci_low"] == round(expected.low, 2) and entry["section"] == "trial"  # 2 train steps
    assert "already holds seed" not in err


@needs_shared_mnist
def test_a_run_of_a_seed_the_results_hold_is_noted_before_training_and_counted_once(tmp_path):
    code, _, err = run_cli("run", *TINY, "--seed", "0", "--results-dir", str(tmp_path))
    assert code == 0 and "already holds seed" not in err, err
    [first] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    code, _, err = run_cli("run", *TINY, "--seeds", "0-1", "--results-dir", str(tmp_path))
    assert code == 0, err
    notes = [line for line in err.splitlines() if "already holds seed" in line]
    assert len(notes) == 1 and f"seed 0 of this configuration ({first['run_id']})" in notes[0]
    assert err.index(notes[0]) < err.index("seed 0 (1 of 2)")  # before the first run trains
    code, _, err = run_cli("run", *TINY, "--seed", "0", "--set", "lr=0.01", "--results-dir", str(tmp_path))
    assert code == 0 and "already holds seed" not in err  # another configuration: its own seed 0
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    fid = {seed: [r["metrics"]["fid"] for r in records if r["config"]["seed"] == seed and r["config"]["lr"] != 0.01]
           for seed in (0, 1)}
    code, out, _ = run_cli("leaderboard", "--results-dir", str(tmp_path), "--format", "json")
    [entry] = [e for e in json.loads(out) if "lr=0.01" not in e["changes"]]
    assert entry["seeds"] == 2 and entry["seed_list"] == [0, 0, 1] and len(fid[0]) == 2
    assert entry["fid"] == round((sum(fid[0]) / 2 + fid[1][0]) / 2, 2)  # seed 0 is the mean of its two runs


def test_a_bad_seed_list_is_a_one_line_error_before_any_work(tmp_path):
    code, out, err = run_cli("run", "--dataset", "mnist", "--seeds", "0,0", "--results-dir", str(tmp_path))
    assert code == 2 and "--seeds needs distinct seeds" in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("text, seed, existing, needle", [
    ("0-x", None, None, "--seeds takes whole numbers and ranges"),
    ("0,1", 3, None, "pass --seed N or --seeds LIST, not both"),
    ("0,1", None, "runs/x.incomplete", "does not go with --resume or --init-from"),
])
def test_seed_lists_are_checked(text, seed, existing, needle):
    with pytest.raises(UsageError, match=re.escape(needle)):
        parse_seeds(text, seed, existing)
    assert parse_seeds("0-2,7", None, None) == [0, 1, 2, 7] and parse_seeds(None, 4, None) == [4]


def test_the_interval_is_students_t_and_one_seed_has_none():
    """By hand: 1, 2, 3 -> mean 2, s = 1, t(0.975, 2) = 4.30265, half-width 4.30265 / sqrt(3) = 2.48414."""
    e = estimate([1.0, 2.0, 3.0])
    assert (e.mean, e.n, e.std) == (2.0, 3, 1.0) and e.half_width == pytest.approx(2.48414, abs=1e-5)
    one = estimate([5.0, None])
    assert (one.n, one.low, one.high, one.half_width) == (1, 5.0, 5.0, None)
    assert estimate([None]) is None


def test_rank_ranges_follow_overlaps():
    """[1, 2] and [3, 4] are apart; [1.5, 3.5] overlaps both."""
    assert rank_ranges([(1, 2), (3, 4), (1.5, 3.5)]) == [(1, 2), (2, 3), (1, 3)]
    assert rank_ranges([(1, 1), (2, 2)]) == [(1, 1), (2, 2)]


def test_a_ratio_of_means_has_a_log_scale_delta_interval():
    """By hand: 10, 12, 14 over 4, 5, 6: r = 2.4; se^2 of log r = 4 / (3 * 144) + 1 / (3 * 25) = 0.022593,
    Welch-Satterthwaite df = 0.022593^2 / ((4/432)^2 / 2 + (1/75)^2 / 2) = 3.874."""
    from scipy.stats import t

    from sdmbench.board.stats import ratio

    r = ratio(estimate([10.0, 12.0, 14.0]), estimate([4.0, 5.0, 6.0]))
    half = t.ppf(0.975, 3.874) * 0.022593 ** 0.5
    assert r.mean == pytest.approx(2.4)
    assert (r.low, r.high) == (pytest.approx(2.4 * 2.718281828 ** -half, rel=1e-3),
                               pytest.approx(2.4 * 2.718281828 ** half, rel=1e-3))
    assert ratio(estimate([3.0]), estimate([1.0, 2.0])).half_width is None  # one seed: no interval


def test_welch_p_is_scipys_test_on_the_raw_values():
    from scipy.stats import ttest_ind

    from sdmbench.board.stats import welch_p

    a, b = [20.8, 16.5, 14.3], [82.1, 52.8, 53.6]
    assert welch_p(estimate(a), estimate(b)) == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)


def test_holm_multiplies_the_ith_smallest_of_m_p_values_by_m_minus_i_plus_1_and_keeps_the_order():
    from sdmbench.board.stats import holm

    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04); None is not in the family
    adjusted = holm([0.04, None, 0.01, 0.03])
    assert adjusted[1] is None and [adjusted[i] for i in (0, 2, 3)] == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_the_leaderboard_compares_every_entry_with_a_baseline():
    from sdmbench.board import leaderboard
    from test_leaderboard import record

    ann = [record(f"a{i}", f, model="ann", seed=i, kid=f / 4) for i, f in enumerate((20.0, 16.0, 14.0))]
    snn = [record(f"s{i}", f, model="snn", seed=i, kid=f / 2) for i, f in enumerate((82.0, 53.0, 54.0))]
    rows = {r["model"]: r for r in leaderboard.rows(ann + snn, baseline="ann")}
    assert rows["ann"]["fid_ratio"] == 1.0 and rows["ann"]["fid_p"] is None and rows["ann"]["fid_p_holm"] is None
    assert rows["snn"]["fid_ratio"] == round(63.0 / (50.0 / 3), 3)
    assert rows["snn"]["fid_ratio_ci_low"] < rows["snn"]["fid_ratio"] < rows["snn"]["fid_ratio_ci_high"]
    assert 0 < rows["snn"]["fid_p"] < 0.05 and rows["snn"]["energy_ratio"] == 1.0
    assert rows["snn"]["fid_p_holm"] == rows["snn"]["fid_p"]  # a family of one test is not adjusted
    assert rows["snn"]["kid_ratio"] == round(2 * 63.0 / (50.0 / 3), 3)  # KIDs are FID/2 against FID/4
    assert "FID / baseline [95%]" in leaderboard.to_markdown(list(rows.values()))


def test_a_baseline_is_named_model_slash_neuron_when_a_model_has_an_entry_per_neuron():
    from sdmbench.board import leaderboard
    from sdmbench.errors import UsageError
    from test_leaderboard import record

    def neuron(r, name):
        return dict(r, neuron=name, config=dict(r["config"], neuron=name))

    tsm = [neuron(record(f"t{i}", f, model="snn", seed=i), "tsm") for i, f in enumerate((50.0, 60.0))]
    if_ = [neuron(record(f"i{i}", f, model="snn", seed=i), "if") for i, f in enumerate((75.0, 90.0))]
    rows = {r["neuron"]: r for r in leaderboard.rows(tsm + if_, baseline="snn/tsm")}
    assert rows["tsm"]["fid_ratio"] == 1.0 and rows["if"]["fid_ratio"] == round(82.5 / 55.0, 3)
    with pytest.raises(UsageError, match=r"--baseline 'snn' names two entries \(snn/\w+, snn/\w+\); name one as"):
        leaderboard.rows(tsm + if_, baseline="snn")
