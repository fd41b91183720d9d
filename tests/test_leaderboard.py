"""The leaderboard ranks by FID within (dataset, protocol) and never across."""
import json

import pytest

from sdmbench.board import leaderboard
from sdmbench.board.entries import seed_holders
from sdmbench.running.records import RECORD_FILE, SCHEMA_VERSION, load_records, write_json_atomic
from sdmbench.scoring.protocol import GENERATION_FIELDS, SCORING_FIELDS, make_protocol, protocol_key

from conftest import REPO, run_cli


def record(run_id, fid, *, samples=128, dataset="mnist", model="sdm", seed=0, train_steps=60, kid=None):
    protocol = make_protocol(dataset=dataset, extractor="classifier", extractor_version="abc", num_samples=samples,
                             reference_split="test", reference_images=1000, image_size=16, sampler="ddim",
                             sample_steps=10, sampler_options={})
    config = {"model": model, "neuron": "if", "dataset": dataset, "preset": "smoke", "seed": seed,
              "train_steps": train_steps, "lr": 2e-3, "options": {}, "results_dir": f"/tmp/{run_id}"}
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "model": model, "neuron": "if", "dataset": dataset,
            "T": 4, "parameters": 160_000, "protocol": protocol, "protocol_key": protocol_key(protocol),
            "config": config, "metrics": {"fid": fid, "kid": kid, "energy_per_image_mj": 0.25,
                                          "mean_firing_rate": 0.2},
            "training": {"steps": train_steps}}


def test_distinct_configs_are_ranked_by_fid_within_a_protocol():
    rows = leaderboard.rows([record("b", 40.0, model="m2"), record("a", 30.0, model="m1"),
                             record("c", 50.0, model="m3")])
    assert [(r["run_ids"], r["rank"]) for r in rows] == [(["a"], "1"), (["b"], "2"), (["c"], "3")]
    assert all(r["single_seed"] and r["seeds"] == 1 for r in rows)


def test_different_protocols_are_separate_groups_each_ranked_from_one():
    rows = leaderboard.rows([record("few", 10.0, samples=128, model="m1"), record("many", 30.0, samples=5000),
                             record("few2", 20.0, samples=128, model="m2")])
    groups = {}
    for r in rows:
        groups.setdefault(r["protocol_key"], []).append((r["run_ids"][0], r["rank"]))
    assert sorted(groups.values()) == [[("few", "1"), ("few2", "2")], [("many", "1")]]


def test_seeds_of_one_config_are_one_entry_with_a_t_interval():
    """By hand: FIDs 10, 12, 14: mean 12, s = 2, t(0.975, 2) = 4.3027, half-width 4.3027 * 2 / sqrt(3) = 4.968."""
    [row] = leaderboard.rows([record(f"s{i}", fid, seed=i) for i, fid in enumerate((14.0, 10.0, 12.0))])
    assert row["seeds"] == 3 and row["seed_list"] == [0, 1, 2] and not row["single_seed"]
    assert row["fid"] == 12.0 and row["run_ids"] == ["s0", "s1", "s2"]
    assert row["fid_ci_low"] == pytest.approx(12 - 4.968, abs=1e-2)
    assert row["fid_ci_high"] == pytest.approx(12 + 4.968, abs=1e-2)
    assert leaderboard.display(row, "fid") == "12.0 ± 4.97"


def test_a_seed_run_twice_counts_once_as_the_mean_of_its_runs():
    """By hand: seed 0 ran twice (10, 14: one value, 12), seed 1 once (20): n = 2, mean 16, s = 5.657,
    t(0.975, 1) = 12.706, half-width 12.706 * 5.657 / sqrt(2) = 50.82. Counted as three seeds it would be
    mean 14.67 with half-width 12.43: a narrower interval from a repeat."""
    [row] = leaderboard.rows([record("a", 10.0, seed=0), record("b", 14.0, seed=0), record("c", 20.0, seed=1)])
    assert row["seeds"] == 2 and row["seed_list"] == [0, 0, 1] and row["run_ids"] == ["a", "b", "c"]
    assert row["fid"] == 16.0 and not row["single_seed"]
    assert row["fid_ci_low"] == pytest.approx(16 - 50.82, abs=1e-2)
    assert row["fid_ci_high"] == pytest.approx(16 + 50.82, abs=1e-2)
    assert leaderboard.display(row, "seeds") == "2 (3 runs)"
    [once] = leaderboard.rows([record("a", 10.0), record("b", 10.0)])
    assert once["seeds"] == 1 and once["single_seed"] and once["fid_ci_low"] is None
    assert leaderboard.display(once, "seeds") == "1 (single, 2 runs)"


def test_the_runs_a_new_run_would_repeat_a_seed_of_are_those_of_its_entry_and_seed():
    board = [record("a", 10.0, seed=0), record("c", 20.0, seed=1), record("x", 30.0, seed=0, model="other")]
    assert seed_holders(record("new", 12.0, seed=0), board) == ["a"]
    assert seed_holders(record("new", 12.0, seed=2), board) == []
    assert seed_holders(record("new", 12.0, seed=0, train_steps=800), board) == []  # another method


def test_overlapping_intervals_share_a_rank_range():
    """A: 10, 12, 14 -> [7.03, 16.97]; C: 15, 17, 19 -> [12.03, 21.97]; B: one seed at 20.
    A's interval ends below B's point, C overlaps both: A 1-2, C 1-3, B 2-3."""
    a = [record(f"a{i}", f, model="A", seed=i) for i, f in enumerate((10.0, 12.0, 14.0))]
    c = [record(f"c{i}", f, model="C", seed=i) for i, f in enumerate((15.0, 17.0, 19.0))]
    rows = leaderboard.rows(a + c + [record("b", 20.0, model="B")])
    assert {r["model"]: r["rank"] for r in rows} == {"A": "1-2", "C": "1-3", "B": "2-3"}


def test_runs_off_their_preset_are_trials_listed_apart_and_never_ranked():
    preset = lambda r: dict(r["config"], train_steps=60, seed=0, results_dir="x")  # noqa: E731
    rows = leaderboard.rows([record("preset", 40.0), record("long", 10.0, model="m", train_steps=600)],
                            preset_of=preset)
    assert [(r["run_ids"], r["section"], r["rank"]) for r in rows] == [
        (["preset"], "ranked", "1"), (["long"], "trial", "trial")]
    assert rows[1]["changes"] == "train_steps=600"
    text = leaderboard.to_markdown(rows)
    assert text.index("### Ranked") < text.index("### Trials") < text.index("train_steps=600")


def test_a_trial_names_only_the_nested_setting_it_changed_as_set_takes_it():
    backbone = {"ch": 32, "ch_mult": [1, 2, 2], "stem": "spiking"}
    preset = lambda r: dict(r["config"], backbone=backbone, process={}, seed=0)  # noqa: E731
    analog = record("analog", 30.0, model="m")
    analog["config"].update(backbone=dict(backbone, stem="analog"), process={"temperature": 0.5})
    rows = leaderboard.rows([analog], preset_of=preset)
    assert rows[0]["section"] == "trial"
    assert rows[0]["changes"] == "backbone.stem=analog, process.temperature=0.5"


def test_a_study_s_runs_group_with_their_preset_seeds_and_name_the_study():
    """The study does not shape the method: a study's 1x run is one more seed of the preset entry;
    its scaled run is a trial that names the study."""
    preset = lambda r: dict(r["config"], train_steps=60, seed=0, study=None)  # noqa: E731
    study = [record("s1x", 30.0, seed=1), record("s4x", 20.0, train_steps=240)]
    for r in study:
        r["config"]["study"] = "compute-scaling"
    rows = leaderboard.rows([record("p0", 40.0)] + study, preset_of=preset)
    assert [(r["run_ids"], r["section"], r["study"]) for r in rows] == [
        (["p0", "s1x"], "ranked", "compute-scaling"), (["s4x"], "trial", "compute-scaling")]
    assert "| study |" in leaderboard.to_markdown(rows)


def test_a_rescored_run_appears_under_each_protocol_with_its_own_energy():
    r = record("r", 30.0)
    other = dict(r["protocol"], num_samples=5000)
    r["rescores"] = [{"protocol": other, "protocol_key": protocol_key(other), "metrics": {"fid": 25.0, "kid": 0.5}}]
    rows = leaderboard.rows([r])
    assert sorted((row["fid"], row["kid"], row["energy_mj_per_image"]) for row in rows) == [
        (25.0, 0.5, 0.25), (30.0, None, 0.25)]


def test_protocol_key_covers_every_scoring_field_and_no_generation_field():
    base = record("x", 1.0)["protocol"]
    for field in SCORING_FIELDS:
        assert protocol_key(dict(base, **{field: "other"})) != protocol_key(base), field
    for field in GENERATION_FIELDS:  # samplers are compared, not separated
        assert protocol_key(dict(base, **{field: "other"})) == protocol_key(base), field


def test_every_format_carries_mean_interval_seeds_and_rank():
    import csv
    import io

    rows = leaderboard.rows([record(f"s{i}", f, seed=i, kid=k) for i, (f, k) in enumerate([(30.0, 1.0), (32.0, 3.0)])])
    table = leaderboard.to_markdown(rows)  # no record holds precision or recall: no such columns
    assert "| 1 | sdm | if | 4 | 2 | 31.0 ± 12.71 | 2.0 ± 12.7062 | 0.25 ± 0.0 | 0.2 ± 0.0 | ddim x10 |" in table
    assert "| seeds | FID | KID | mJ/image | firing rate |" in table
    [line] = list(csv.DictReader(io.StringIO(leaderboard.to_csv(rows))))
    assert (line["rank"], line["seeds"], line["fid"], line["single_seed"]) == ("1", "2", "31.0", "False")
    assert float(line["fid_ci_low"]) == pytest.approx(31 - 12.706, abs=1e-2) and line["run_ids"] == "s0 s1"
    [entry] = json.loads(leaderboard.to_json(rows))
    assert entry["fid_ci_high"] == pytest.approx(31 + 12.706, abs=1e-2) and entry["seeds"] == 2


def test_records_are_written_atomically_and_unreadable_ones_are_reported(tmp_path):
    (tmp_path / "good").mkdir()
    write_json_atomic(tmp_path / "good" / RECORD_FILE, record("good", 1.0))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / RECORD_FILE).write_text("{not json")
    assert [p.name for p in (tmp_path / "good").iterdir()] == [RECORD_FILE]
    records, problems = load_records(tmp_path)
    assert [r["run_id"] for r in records] == ["good"] and len(problems) == 1


def test_leaderboard_command_reads_the_results_env_var(tmp_path):
    (tmp_path / "r1").mkdir()
    write_json_atomic(tmp_path / "r1" / RECORD_FILE, record("r1", 12.5))
    code, out, err = run_cli("leaderboard", "--format", "json", env={"SDMBENCH_RESULTS": str(tmp_path)})
    assert code == 0, err
    assert [r["fid"] for r in json.loads(out)] == [12.5]


EVIL = "evil|x\n| injected | row |<script>alert(1)</script>"


def test_record_text_cannot_inject_markdown_rows_or_html():
    text = leaderboard.to_markdown(leaderboard.rows([record("a", 30.0, model=EVIL), record("b", 40.0)]))
    data_rows = [line for line in text.splitlines() if line.startswith("| ") and "rank" not in line]
    assert len(data_rows) == 2 and "<script>" not in text and "&lt;script&gt;" in text
    cells = [c for c in data_rows[0].split(" | ")]
    [header] = [line for line in text.splitlines() if line.startswith("| rank")]
    assert len(cells) == len(header.split(" | "))  # the model's '|' is escaped, not a column break
    assert "evil\\|x" in data_rows[0]


def test_record_text_cannot_inject_csv_rows_or_formulas():
    import csv
    import io

    text = leaderboard.to_csv(leaderboard.rows([record("=HYPERLINK(1)", 30.0, model=EVIL)]))
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert "\n" not in row["model"] and row["model"].startswith("evil|x | injected")
    assert row["run_ids"] == "'=HYPERLINK(1)" and len(text.strip().splitlines()) == 2


def test_protocol_groups_are_listed_by_extractor_then_n():
    rows = leaderboard.rows([record("many", 30.0, samples=5000), record("few", 10.0, samples=128),
                             record("mid", 20.0, samples=1000)])
    assert [r["run_ids"][0] for r in rows] == ["few", "mid", "many"]


def test_the_default_extractor_s_protocols_lead_and_the_rest_follow_by_name():
    def scored_by(run_id, extractor):
        r = record(run_id, 10.0)
        r["protocol"] = dict(r["protocol"], extractor=extractor)
        r["protocol_key"] = protocol_key(r["protocol"])
        return r

    runs = [scored_by("cnn", "classifier"), scored_by("inc", "inception"), scored_by("res", "classifier-resnet")]
    assert [r["run_ids"][0] for r in leaderboard.rows(runs)] == ["cnn", "res", "inc"]
    assert [r["run_ids"][0] for r in leaderboard.rows(runs, lead="classifier-resnet")] == ["res", "cnn", "inc"]


def test_the_published_table_is_the_same_where_plugins_claim_other_defaults():
    """A reader's plugins that also claim to be the default extractor and energy model change neither the
    published board's order nor its energy prices, nor which runs are on their preset: verify matches."""
    from sdmbench.cli.leaderboard import board_markdown
    from sdmbench.plugin_api import loader

    plugins = loader.build()
    for kind, name in (("extractor", "classifier"), ("energy_model", "int8-compute")):
        registry = getattr(plugins, kind)
        registry.add("a-default-too", registry.get(name).factory, default=True, description="a third party's")
        assert len(registry.defaults()) == 2
    board = REPO / "leaderboard"
    assert board_markdown(board, plugins) == (board / "README.md").read_text()
