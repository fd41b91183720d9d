"""Metrics declare their own columns; the board, the site, a run's summary and a sweep read only that."""
import ast
from pathlib import Path

import pytest

from sdmbench.board import leaderboard
from sdmbench.plugin_api.contracts import CONTRACTS, ContractError
from sdmbench.plugin_api.registry import Registry
from sdmbench.scoring import Column, Metric, Scores
from sdmbench.scoring import columns as shown

from test_leaderboard import record

CORE = Path(__file__).resolve().parents[1] / "sdmbench"


def test_the_built_in_metrics_show_their_values_in_the_boards_order():
    columns = shown.installed()
    assert [c.header for c in columns] == ["FID", "KID", "precision", "recall", "mJ/image", "firing rate"]
    assert [c.field for c in columns if c.of_the_run] == ["energy_mj_per_image", "mean_firing_rate"]
    assert shown.ranking(columns).key == "fid"


def test_against_a_baseline_the_ratios_come_in_column_order_with_the_ranking_columns_p_values():
    columns = shown.installed()
    assert shown.versus_fields(columns, bounds=False) == ("fid_ratio", "fid_p", "fid_p_holm", "kid_ratio",
                                                          "energy_ratio")
    assert shown.versus_fields(columns, bounds=True)[:5] == ("fid_ratio", "fid_ratio_ci_low", "fid_ratio_ci_high",
                                                             "fid_p", "fid_p_holm")


ACCURACY = (Column("accuracy", "accuracy", digits=2, lower_is_better=False, ratio="accuracy_ratio", ranks=True),)


def _scored(run_id, accuracy, model):
    r = record(run_id, None, model=model)
    r["metrics"] = {"accuracy": accuracy}
    return r


def test_a_metric_that_ranks_higher_is_better_ranks_the_highest_first():
    rows = leaderboard.rows([_scored("a", 0.25, "low"), _scored("b", 0.75, "high")], columns=ACCURACY)
    assert [(r["model"], r["rank"], r["accuracy"]) for r in rows] == [("high", "1", 0.75), ("low", "2", 0.25)]
    text = leaderboard.to_markdown(rows, ACCURACY)
    assert "| rank | model | neuron | T | seeds | accuracy | sampler | M params | steps | run_ids |" in text


def test_a_third_party_ranking_column_gets_ratios_and_welch_p_under_its_own_name():
    runs = [_scored(f"h{s}", a, "high") for s, a in enumerate((0.7, 0.8))]
    runs += [_scored(f"l{s}", a, "low") for s, a in enumerate((0.2, 0.3))]
    for i, r in enumerate(runs):
        r["config"]["seed"] = i % 2
    rows = {r["model"]: r for r in leaderboard.rows(runs, baseline="high", columns=ACCURACY)}
    assert rows["low"]["accuracy_ratio"] == pytest.approx(0.25 / 0.75, abs=1e-3)  # means 0.25 and 0.75
    assert 0 < rows["low"]["accuracy_p"] < 1 and rows["low"]["accuracy_p_holm"] == rows["low"]["accuracy_p"]
    assert "accuracy / baseline [95%]" in leaderboard.to_markdown(list(rows.values()), ACCURACY)
    assert leaderboard.csv_fields(ACCURACY)[10:15] == ("accuracy", "accuracy_ci_low", "accuracy_ci_high",
                                                       "accuracy_ratio", "accuracy_ratio_ci_low")


class _Bad(Metric):
    name = "bad"
    columns = ("fid",)

    def compute(self, ctx):
        return Scores()


def test_a_metric_whose_columns_are_not_columns_breaks_its_contract_at_registration():
    registry = Registry("metric", CONTRACTS["metric"])
    with pytest.raises(ContractError, match="not a sdmbench.scoring.Column"):
        registry.add("bad", _Bad)


def test_a_ranking_column_needs_a_ratio():
    with pytest.raises(ValueError, match="give it a ratio"):
        Column("x", "X", ranks=True)


#: modules that show values: none of them may name a metric's value (the energy contract names its own)
SHOWING = ("board/entries.py", "board/leaderboard.py", "cli/entry.py", "cli/run.py", "cli/leaderboard.py",
           "running/sweep.py", "board/site/build.py", "board/site/runs.py", "energy/records.py", "board/verify.py")
VALUES = {"fid", "kid", "precision", "recall", "energy_per_image_mj", "mean_firing_rate", "energy_mj_per_image"}


def _strings(tree, skip=("in_words",)):
    """String constants of a module, outside the functions named in ``skip`` (the site's protocol sentence)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in skip:
            node.body = []
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("module", SHOWING)
def test_the_core_that_shows_values_names_no_metrics_value(module):
    tree = ast.parse((CORE / module).read_text())
    assert not _strings(tree) & VALUES
