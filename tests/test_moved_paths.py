"""Plugins written against 0.1's flat core still import for one release: every old path
(``sdmbench.records``, ``sdmbench.site.build``...) is the new module itself, warns once with the
new path, and nothing in this repository uses an old path any more."""
from __future__ import annotations

import ast
import json

from conftest import REPO, run_python

from sdmbench.moved import MOVED, new_name

# 0.1's flat folder (git show 22e4704:sdmbench/), less __init__, __main__, api, errors and cli, which kept
# their paths (cli is a package now)
FLAT_CORE_0_1 = """allocator checkpoint cli_board cli_leaderboard cli_run cli_runs cli_score commands config configure
console contracts curves data distributed entries environment hookspecs interrupt leaderboard model neuron
pipeline plugins precision records recount registry rescore runner safe_pickle sampling sizes stats sweep
testing training verify site""".split()

EVERY_OLD_MODULE = """
import importlib, json, sys, warnings
from sdmbench.moved import MOVED
out = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    out[old] = [module is importlib.import_module(new), module.__spec__.name, module.__name__,
                [str(w.message) for w in caught if w.category is DeprecationWarning], caught and caught[0].filename]
print(json.dumps(out))
"""


def test_every_old_path_is_the_new_module_and_says_where_it_went():
    proc = run_python(EVERY_OLD_MODULE)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert set(seen) == set(MOVED) == {f"sdmbench.{name}" for name in FLAT_CORE_0_1}
    for old, (same, spec, name, warned, filename) in seen.items():
        new = MOVED[old]
        assert same and spec == name == new, old
        assert warned == [f"{old} moved to {new} and the old path goes in sdmbench 0.2: import {new}"], old
        assert filename == "<string>", f"{old}: the warning points at importlib, not at the importing line"


def test_a_plugin_written_for_the_flat_core_still_imports_and_patching_one_path_patches_both():
    proc = run_python("import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
                      "import sdmbench.running.records as new\n"
                      "try:\n    import sdmbench.records\nexcept DeprecationWarning as w: print(w)\n"
                      "warnings.simplefilter('ignore')\n"
                      "from sdmbench.records import RECORD_FILE\n"
                      "import sdmbench.site.build as old_build, sdmbench.board.site.build as new_build\n"
                      "import sdmbench.records as old; old.RECORD_FILE = 'patched'\n"
                      "print(RECORD_FILE, new.RECORD_FILE, old_build is new_build)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[1] == "record.json patched True"


def test_old_names_map_by_prefix_and_new_names_do_not_map():
    assert new_name("sdmbench.site.plots") == "sdmbench.board.site.plots"
    assert new_name("sdmbench.plugins") == "sdmbench.plugin_api.loader"
    assert new_name("sdmbench.cli") is None  # a package now, the same path
    assert all(new_name(new) is None for new in MOVED.values())
    assert new_name("sdmbench.recordsx") is None


def test_nothing_in_the_repository_imports_an_old_path():
    sources = [p for top in ("sdmbench", "plugins", "examples", "tests", "studies", "benchmarks", "tools")
               for p in (REPO / top).rglob("*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            old = [n for n in names if new_name(n)]
            assert not old or path.name == "test_moved_paths.py", f"{path.relative_to(REPO)}:{node.lineno} {old}"
