"""The leaderboard ranks by FID within (dataset, protocol) and never across."""
import json

from sdmbench import leaderboard
from sdmbench.records import RECORD_FILE, SCHEMA_VERSION, load_records, write_json_atomic
from sdmbench.scoring.protocol import GENERATION_FIELDS, SCORING_FIELDS, make_protocol, protocol_key

from conftest import run_cli


def record(run_id, fid, *, samples=128, dataset="mnist", model="sdm"):
    protocol = make_protocol(dataset=dataset, extractor="classifier", extractor_version="abc", num_samples=samples,
                             reference_split="test", reference_images=1000, image_size=16, sampler="ddim",
                             sample_steps=10, sampler_options={})
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "model": model, "neuron": "if", "dataset": dataset,
            "T": 4, "parameters": 160_000, "protocol": protocol, "protocol_key": protocol_key(protocol),
            "metrics": {"fid": fid, "energy_per_image_mj": 0.25, "mean_firing_rate": 0.2},
            "training": {"steps": 60}}


def test_ranked_by_fid_within_a_protocol():
    rows = leaderboard.rows([record("b", 40.0), record("a", 30.0), record("c", 50.0)])
    assert [(r["run_id"], r["rank"]) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]


def test_different_protocols_are_separate_groups_each_ranked_from_one():
    rows = leaderboard.rows([record("few", 10.0, samples=128), record("many", 30.0, samples=5000),
                             record("few2", 20.0, samples=128)])
    groups = {}
    for r in rows:
        groups.setdefault(r["protocol_key"], []).append((r["run_id"], r["rank"]))
    assert sorted(groups.values()) == [[("few", 1), ("few2", 2)], [("many", 1)]]


def test_protocol_key_covers_every_scoring_field_and_no_generation_field():
    base = record("x", 1.0)["protocol"]
    for field in SCORING_FIELDS:
        assert protocol_key(dict(base, **{field: "other"})) != protocol_key(base), field
    for field in GENERATION_FIELDS:  # samplers are compared, not separated
        assert protocol_key(dict(base, **{field: "other"})) == protocol_key(base), field


def test_markdown_and_csv_carry_the_numbers():
    rows = leaderboard.rows([record("a", 30.123)])
    assert "| 1 | sdm | if | 4 | 30.12 | 0.25 | 0.2 | ddim x10 |" in leaderboard.to_markdown(rows)
    assert "30.12" in leaderboard.to_csv(rows).splitlines()[1]


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
    assert len(cells) == len(leaderboard.COLUMNS)  # the model's '|' is escaped, not a column break
    assert "evil\\|x" in data_rows[0]


def test_record_text_cannot_inject_csv_rows_or_formulas():
    import csv
    import io

    text = leaderboard.to_csv(leaderboard.rows([record("=HYPERLINK(1)", 30.0, model=EVIL)]))
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert "\n" not in row["model"] and row["model"].startswith("evil|x | injected")
    assert row["run_id"] == "'=HYPERLINK(1)" and len(text.strip().splitlines()) == 2
