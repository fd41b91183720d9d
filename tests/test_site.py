"""The HTML leaderboard: a static site of seed-aggregated entries, a quality-energy plot with its
Pareto front, a page per entry; record text escaped; the committed site current; checked in Chromium."""
import filecmp
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdmbench.board import leaderboard
from sdmbench.errors import UsageError
from sdmbench.running.records import RECORD_FILE, SCHEMA_VERSION
from sdmbench.scoring.protocol import make_protocol, protocol_key
from sdmbench.board.site import build_site
from tools.browser import NoBrowser, chromium
from sdmbench.board.site.plots import Point, front, stable_ids
from sdmbench.board.site.runs import command

from conftest import REPO

EVIL = "<script>window.__evil = 1</script>"


def record(run_id, fid, mj, *, model="sdm", neuron="if", seed=0, train_steps=60, created="2026-11-20"):
    protocol = make_protocol(dataset="mnist", extractor="classifier", extractor_version="abc", num_samples=128,
                             reference_split="test", reference_images=1000, image_size=16, sampler="ddim",
                             sample_steps=10, sampler_options={})
    config = {"model": model, "neuron": neuron, "dataset": "mnist", "preset": "smoke", "seed": seed,
              "train_steps": train_steps, "options": {}}
    rates = {"stem": 0.3, "down.neuron": 0.1} if neuron else {}
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "created": created, "model": model,
            "neuron": neuron, "dataset": "mnist", "T": 4 if neuron else 1, "parameters": 160_000,
            "protocol": protocol, "protocol_key": protocol_key(protocol), "config": config,
            "metrics": {"fid": fid, "energy_per_image_mj": mj, "mean_firing_rate": 0.2 if neuron else None},
            "details": {"energy": {"firing_rates": rates}}, "training": {"steps": train_steps},
            "git_commit": "0123456789abcdef", "packages": {"torch": "2.x"}, "hardware": {"device": "cpu"}}


def board(folder: Path, records) -> Path:
    """``records`` as run folders (record.json and a 64x64 samples.png) under ``folder``."""
    for r in records:
        run = folder / r["run_id"]
        run.mkdir(parents=True)
        (run / RECORD_FILE).write_text(json.dumps(r))
        Image.fromarray(np.full((64, 64), 128, np.uint8)).save(run / "samples.png")
    return folder


RECORDS = [record("ann0", 20.0, 20.0, model="sdm-ann", neuron=None), record("ann1", 22.0, 20.0, model="sdm-ann",
                                                                          neuron=None, seed=1),
           record("if0", 60.0, 7.0), record("if1", 70.0, 7.5, seed=1), record("tsm0", 50.0, 8.0, neuron="tsm"),
           record("lif0", 90.0, 1.0, model="spiking-diffusion", neuron="lif"),
           record("evil0", 80.0, 9.0, model=EVIL), record("trial0", 40.0, 8.0, train_steps=800)]


def site(tmp_path, records=RECORDS) -> Path:
    folder = board(tmp_path / "records", records)
    pairs = leaderboard.entry_rows(records, preset_of=lambda r: dict(r["config"], train_steps=60))
    return build_site(pairs, folder, tmp_path / "site")


def test_the_pareto_front_keeps_the_points_no_ranked_point_beats_on_both_axes():
    """By hand: (1, 90), (7, 60), (8, 50), (20, 20) are each best at their energy; (7.5, 70) is beaten by
    (7, 60), (9, 80) by (8, 50); the trial at (8, 40) would beat (8, 50) but trials are not on the front."""
    def p(name, energy, quality, ranked=True):
        return Point(name, name, energy, energy, energy, quality, quality, quality, True, ranked)

    points = [p("a", 20, 20), p("b", 7.5, 70), p("c", 7, 60), p("d", 8, 50), p("e", 1, 90), p("f", 9, 80),
              p("t", 8, 40, ranked=False)]
    assert [q.slug for q in front(points)] == ["e", "c", "d", "a"]


def test_the_command_of_an_entry_repeats_its_run():
    r = record("x", 1.0, 1.0, seed=2)
    r["config"]["options"] = {"fine_tune": True}
    assert command(r, {"train_steps": 800}) == ("sdmbench run --model sdm --neuron if --dataset mnist --preset smoke "
                                                "--seed 2 --set fine_tune=true --set train_steps=800")


def test_svg_ids_depend_on_the_drawing_not_on_the_floats_matplotlib_hashed():
    """Two CPUs drew the same clip box (same 6-decimal path) but hashed different last bits into its id."""
    drawing = ('<svg><defs><clipPath id="{p}"><rect x="62.180829"/></clipPath><path id="{m}" d="M 0 0"/>'
               '</defs><g clip-path="url(#{p})"><use xlink:href="#{m}"/></g></svg>')
    avx512 = stable_ids(drawing.format(p="p865caf7050", m="m0123456789"))
    avx2 = stable_ids(drawing.format(p="pcffe777f87", m="m9876543210"))
    assert avx512 == avx2
    clip, marker = re.findall(r'id="([^"]+)"', avx2)
    assert f'url(#{clip})' in avx2 and f'href="#{marker}"' in avx2 and clip[0] == "p" and marker[0] == "m"
    other = stable_ids(drawing.replace("62.180829", "95.329033").format(p="p865caf7050", m="m0123456789"))
    assert re.findall(r'id="([^"]+)"', other)[0] != clip  # another figure in the same page keeps its own ids
    assert stable_ids(avx2) == avx2  # renamed ids are not renamed again


def test_the_site_has_an_index_a_page_per_entry_each_run_s_files_and_no_absolute_path(tmp_path):
    index = site(tmp_path)
    root = index.parent
    entries = sorted((root / "entries").glob("*.html"))
    assert len(entries) == 6  # two seeds of sdm-ann and of sdm/if are one entry each
    assert {p.name for p in (root / "runs").iterdir()} == {r["run_id"] for r in RECORDS}
    assert all((root / "runs" / r["run_id"] / "samples.png").is_file() for r in RECORDS)
    text = index.read_text()
    assert str(tmp_path) not in text and not re.search(r'(src|href)="(https?:)?//', text)  # nothing from a network
    assert text.count('<tr id="row-') == 6 and text.count('id="mark-') == 6


def test_record_text_is_escaped_in_every_page(tmp_path):
    root = site(tmp_path).parent
    for page in [root / "index.html", *(root / "entries").glob("*.html")]:
        text = page.read_text()
        assert "<script>window" not in text
    assert "&lt;script&gt;window.__evil = 1&lt;/script&gt;" in (root / "index.html").read_text()


def test_a_rebuild_removes_the_pages_of_entries_that_left(tmp_path):
    root = site(tmp_path).parent
    pairs = leaderboard.entry_rows(RECORDS[:2])
    build_site(pairs, tmp_path / "records", root)
    assert len(list((root / "entries").glob("*.html"))) == 1
    assert {p.name for p in (root / "runs").iterdir()} == {"ann0", "ann1"}


def leaderboard_cmd(results_dir, **flags):
    """``sdmbench leaderboard --results-dir DIR ...`` in this process (a bad flag raises its UsageError)."""
    from sdmbench.cli.leaderboard import leaderboard_cmd as command

    given = dict(results_dir=Path(results_dir), dataset=None, fmt="table", output=None, out_dir=None,
                 baseline=None, energy_model=None)
    return command(**{**given, **flags})


def test_html_needs_a_folder_and_a_folder_needs_html(tmp_path):
    board(tmp_path / "records", RECORDS[:1])
    with pytest.raises(UsageError, match="give its folder with --out DIR"):
        leaderboard_cmd(tmp_path / "records", fmt="html")
    with pytest.raises(UsageError, match="--out DIR is for --format html"):
        leaderboard_cmd(tmp_path / "records", out_dir=tmp_path / "site")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        leaderboard_cmd(tmp_path / "records", fmt="html", out_dir=tmp_path / "file")


def test_the_committed_site_is_the_one_the_committed_records_make(tmp_path):
    """Rebuilt as the documented command does (README, "Leaderboard"); every file must be equal."""
    committed, fresh = REPO / "leaderboard" / "site", tmp_path / "site"
    leaderboard_cmd(REPO / "leaderboard", fmt="html", out_dir=fresh)
    mine = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert mine == theirs, "leaderboard/site is stale: sdmbench leaderboard --results-dir leaderboard " \
                           "--format html --out leaderboard/site"
    _, mismatch, errors = filecmp.cmpfiles(fresh, committed, [str(p) for p in mine], shallow=False)
    assert not mismatch and not errors, f"stale files in leaderboard/site: {mismatch + errors}"


# ---- in a real browser ------------------------------------------------------------------------------

def chrome():
    """Headless Chromium, or a skip that says how to install it."""
    try:
        return chromium()
    except NoBrowser as exc:
        pytest.skip(str(exc))


def test_in_chromium_rows_sort_marks_link_grids_load_and_the_console_is_clean(tmp_path):
    index = site(tmp_path)
    browser = chrome()
    try:
        browser.get(index.as_uri())
        rows = browser.find_elements("css selector", "table.sortable tbody tr")
        assert len(rows) == 6
        ranked = browser.find_element("css selector", 'table[data-section="ranked"]')
        fid_column = [h.text for h in ranked.find_elements("css selector", "th")].index("FID")

        def fids():
            return [float(r.find_elements("css selector", "td")[fid_column].get_attribute("data-value"))
                    for r in ranked.find_elements("css selector", "tbody tr")]
        before = fids()
        header = ranked.find_elements("css selector", "th")[fid_column]
        header.click()
        assert fids() == sorted(before) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert fids() == sorted(before, reverse=True)
        assert len(browser.find_elements("css selector", "figure.pareto svg [id^='mark-']")) == 6
        assert any(EVIL in cell.text for cell in browser.find_elements("css selector", "td"))
        assert browser.execute_script("return window.__evil") is None
        browser.find_element("link text", "tsm").click()
        assert browser.current_url.endswith(".html") and "/entries/" in browser.current_url
        grids = browser.find_elements("css selector", "figure.grid img")
        assert grids and all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", g)
                             == 64 for g in grids)
        severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, severe
    finally:
        browser.quit()
