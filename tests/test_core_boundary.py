"""The core knows no plugin: no module under ``sdmbench/`` imports a plugin
package or names a built-in plugin's entry, and with any one built-in plugin
disabled every command that does not need it still works."""
from __future__ import annotations

import ast
from importlib import metadata

import pytest

from conftest import REPO, SHARED_DATA, needs_shared_mnist, run_cli

CORE = sorted((REPO / "sdmbench").rglob("*.py"))
BUILTIN = sorted(ep.name for ep in metadata.entry_points(group="sdmbench") if ep.dist and ep.dist.name == "sdmbench")


def builtin_packages() -> set:
    return {ep.value.split(":")[0].split(".")[0] for ep in metadata.entry_points(group="sdmbench")}


def builtin_names() -> set:
    """Every name a built-in plugin registers (aliases and its processes' samplers included).

    Metric names are left out: ``fid`` is also the record field the
    leaderboard ranks by (a value in ``record["metrics"]``, read from records,
    not from the plugin, and absent when the metric is)."""
    from sdmbench.plugin_api import loader as plugins

    p = plugins.build()
    names = {e.name for kind, r in p.registries.items() if kind != "metric"
             for e in r if p.loaded.get(e.plugin) == "sdmbench"}
    names |= {alias for r in p.registries.values() for alias in r.aliases()}
    names |= {s for e in p.process for s in e().samplers}
    return names


def docstrings(tree: ast.AST) -> set:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, nodes) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def test_the_builtin_plugins_are_the_ones_this_test_knows():
    assert set(BUILTIN) == {"sdmbench-neurons", "sdmbench-sdm", "sdmbench-ddpm", "sdmbench-datasets",
                            "sdmbench-metrics", "sdmbench-spiking-diffusion", "sdmbench-conversion",
                            "sdmbench-executors", "sdmbench-energy"}
    assert {"sdm", "if", "ddpm", "ddim", "classifier", "local", "mnist", "sdm-unet", "qcfs"} <= builtin_names()


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_no_core_module_imports_a_plugin_package(path):
    packages = builtin_packages()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] not in packages, f"{path.name}:{node.lineno} imports {module}"


def core_imports(path) -> set:
    """The core folders (``cli``, ``running``, ...; a top-level module is its own name) ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sdmbench"):
            parts = [*node.module.split("."), *(a.name for a in node.names)]
        elif isinstance(node, ast.Import):
            parts = next((a.name.split(".") for a in node.names if a.name.startswith("sdmbench.")), [])
        else:
            continue
        if parts and parts[0] == "sdmbench" and len(parts) > 1 and parts[1] not in ("__version__", "hookimpl"):
            found.add(parts[1])
    return found


def folder(path) -> str:
    return path.relative_to(REPO / "sdmbench").parts[0].removesuffix(".py")


# the layers of the architecture page's folder tree: who may not import whom
MAY_NOT_IMPORT = {
    "cli": lambda f: f not in ("cli", "__main__", "__init__"),  # nobody but the command line and `python -m`
    "board": lambda f: f not in ("cli", "board"),  # running, scoring, energy, hardware, plugin_api sit below it
    "moved": lambda f: f != "__init__",
}


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_the_core_folders_import_along_the_layers_of_the_architecture_page(path):
    here = folder(path)
    for target in core_imports(path):
        forbidden = MAY_NOT_IMPORT.get(target)
        assert not (forbidden and forbidden(here)), f"{path.relative_to(REPO)} ({here}/) imports sdmbench.{target}"
    if here == "hardware":
        assert core_imports(path) <= {"errors", "hardware"}, f"{path.name}: hardware/ imports only sdmbench.errors"


def test_the_layer_check_sees_every_form_of_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import sdmbench.board.verify\nfrom sdmbench import __version__\n"
                      "from sdmbench.cli import console\nfrom sdmbench import errors\n")
    assert core_imports(module) == {"board", "cli", "errors"}
    assert folder(REPO / "sdmbench" / "running" / "runner.py") == "running"
    assert MAY_NOT_IMPORT["board"]("running") and not MAY_NOT_IMPORT["board"]("cli")


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_no_core_module_names_a_builtin_entry_in_code(path):
    names, tree = builtin_names(), ast.parse(path.read_text())
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            assert node.value not in names, f"{path.name}:{node.lineno} names the built-in '{node.value}'"


TINY = dict(data_root=str(SHARED_DATA), dataset="mnist", split="test", preset="smoke", train_steps=2,
            num_samples=8, sample_steps=2)
SMALL = {"sample_batch_size": 8, "reference_images": 64}
# a run each disabled plugin is not needed by; None: every run needs it (a one-line error instead)
RUN_WITHOUT = {
    "sdmbench-neurons": "sdm-ann",
    "sdmbench-sdm": "sdm-converted",
    "sdmbench-ddpm": "spiking-diffusion",
    "sdmbench-spiking-diffusion": "sdm",
    "sdmbench-conversion": "sdm",
    "sdmbench-executors": "sdm",
    "sdmbench-energy": "sdm",  # energy is counted, not priced
    "sdmbench-datasets": None,
    "sdmbench-metrics": None,
}


@pytest.fixture
def without(monkeypatch):
    """``without(name)``: the plugins as discovered with ``name`` disabled."""
    from sdmbench.plugin_api import loader as plugins

    def disable(name):
        monkeypatch.setenv("SDMBENCH_DISABLE_PLUGINS", name)
        plugins.reset()
        return plugins.get()

    yield disable
    plugins.reset()


def test_without_the_sdm_plugin_its_commands_are_gone_from_help():
    code, out, err = run_cli("--help", env={"SDMBENCH_DISABLE_PLUGINS": "sdmbench-sdm"})
    commands = out.split("Commands")[-1]
    assert code == 0 and "run" in commands and "import" not in commands and "sweep-threshold" not in commands, err
    code, out, err = run_cli("--help")
    assert code == 0 and "import" in out.split("Commands")[-1] and "sweep-threshold" in out.split("Commands")[-1], err


@pytest.mark.parametrize("plugin", BUILTIN)
def test_plugin_commands_are_those_of_the_enabled_plugins(plugin, without):
    import typer

    app = typer.Typer()
    without(plugin).register_commands(app)
    groups = {info.name for info in app.registered_groups}
    commands = {info.name for info in app.registered_commands}
    # `import sddpm` and `sweep-threshold` are sdm's commands, `extractor train` the metrics plugin's
    expected = ({"import"} - ({"import"} if plugin == "sdmbench-sdm" else set())) | \
        ({"extractor"} - ({"extractor"} if plugin == "sdmbench-metrics" else set()))
    assert groups == expected
    assert commands == (set() if plugin == "sdmbench-sdm" else {"sweep-threshold"})


@pytest.mark.parametrize("plugin", BUILTIN)
def test_plugins_and_the_leaderboard_work_with_any_one_builtin_plugin_disabled(plugin, without):
    from sdmbench.board import leaderboard
    from sdmbench.running.records import load_records

    found = without(plugin)
    assert plugin in found.disabled and not found.failures
    assert all(e.plugin != plugin for r in found.registries.values() for e in r)
    records, problems = load_records(REPO / "leaderboard")
    assert records and not problems and leaderboard.to_markdown(leaderboard.rows(records))


@needs_shared_mnist
@pytest.mark.parametrize("plugin", BUILTIN)
def test_a_run_that_does_not_need_the_disabled_plugin_still_runs(plugin, without, tmp_path, monkeypatch):
    from sdmbench.running.configure import configure
    from sdmbench.errors import UsageError
    from sdmbench.running.runner import execute

    found = without(plugin)
    model = RUN_WITHOUT[plugin]
    if model is None:
        with pytest.raises(UsageError):  # every run needs it: a one-line error before any work
            configure(found, dict(TINY, model="sdm", results_dir=str(tmp_path)), SMALL)
        assert not list(tmp_path.iterdir())
        return
    config = configure(found, dict(TINY, model=model, results_dir=str(tmp_path)), SMALL)
    record = execute(config, plugins=found, log=lambda *a: None).record
    assert record["model"] == model and record["metrics"]["fid"] > 0
    # spikes by provenance: a spiking model's layers accumulate, an ANN's (no neuron emits anything) never do
    assert (record["metrics"]["sops_per_image"] > 0) == (record["neuron"] is not None)
    assert (record["metrics"]["energy_per_image_mj"] is None) == (plugin == "sdmbench-energy")


RUN_FOLDER_FILES = {"RECORD_FILE", "CONFIG_FILE", "record.json", "config.json"}
JSON_IO = {"json.load", "json.loads", "json.dump", "write_json_atomic"}


def called(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return getattr(f, "id", None)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_records_module_reads_or_writes_a_run_folders_json(path):
    # one owner for the run folder and its record (sdmbench.running.records): nobody else parses or writes them
    if path.relative_to(REPO).as_posix() == "sdmbench/running/records.py":
        return
    tree = ast.parse(path.read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
            {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    calls = {called(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not (names & RUN_FOLDER_FILES and calls & JSON_IO), \
        f"{path.name} names a run folder file and does its own JSON reading or writing: use sdmbench.running.records"
