"""The package's layout: the torch-free packages import without torch; the measuring commands run under their
old names as well as their new ones (`rdtheory.gpu`); and the import graph, read from every module's source with
`ast`, points one way (sampling imports model and theory, costs imports theory and never sampling, theory imports no
other layer, nothing imports the CLI; no cycle among the top-level packages)."""

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------ torch-free packages


@pytest.mark.parametrize("package, modules", [("rdtheory.costs", 3), ("rdtheory.theory", 3), ("rdtheory.gpu", 3),
                                              ("rdtheory.knobs", 1)])
def test_package_imports_with_torch_unimportable(package, modules):
    """Every module of the package imports while `import torch` raises ImportError (the gpu package imports torch
    inside the functions that measure)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['torch'] = None\n"
        f"package = importlib.import_module({package!r})\n"
        "names = [m.name for m in pkgutil.iter_modules(package.__path__, package.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= modules, done.stdout  # the package's modules were found, so the loop imported them


# ------------------------------------------------------------------------------------------------ old names


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", ["rdtheory.gpu.bench", "rdtheory.bench"])
def test_bench_checks_its_arguments_under_either_name(module, tmp_path):
    done = _run(module, "--out", str(tmp_path / "b.json"), "--only", "nope")
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.startswith("rdtheory bench: error: --only='nope' is not a case; cases: 'AR r=32'"), done
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize("module", ["rdtheory.gpu.measure", "rdtheory.costs.measure"])
def test_measure_takes_its_options_under_either_name(module):
    done = _run(module, "--help")
    assert done.returncode == 0, done
    assert all(flag in done.stdout for flag in ("--out", "--repeats", "--quick", "--compile")), done.stdout


def test_the_print_helpers_of_plan_are_the_costs_ones_under_their_old_name():
    import rdtheory.cli
    from rdtheory.costs.plan import DiffusionForcing, StaticAR, rate_range, sampler_label

    assert rdtheory.cli.rate_range is rate_range and rdtheory.cli.sampler_label is sampler_label
    df = DiffusionForcing(depth=32, inner=4, headway=1, max_wavefront=128)
    assert sampler_label(df) == "DF r'=4 FixedDepth(32) headway=1 cap=128" and sampler_label(StaticAR(8)) == "AR r=8"


# ------------------------------------------------------------------------------------------------ import graph

PACKAGE = ROOT / "rdtheory"

# Imports that cross the layers' direction, each run only inside a function or as a command (never when the module
# is imported), each deliberate. (importer, imported module) -> why.
DEFERRED_ALLOWED = {
    ("rdtheory.costs.measure", "rdtheory.gpu.measure"):
        "the old command name `python -m rdtheory.costs.measure`, which runs rdtheory.gpu.measure; only as a command",
}


@dataclass(frozen=True)
class Edge:
    importer: str  # a module, "rdtheory.costs.plan"
    target: str  # the module imported, "rdtheory.costs.roofline", or an outside top-level name, "torch"
    line: int
    deferred: bool  # inside a function, or under `if __name__ == "__main__"`: not run by importing the importer


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _lazy_names() -> dict[str, str]:
    """The names `rdtheory/__init__.py` resolves lazily (its `_LAZY` table): name -> the module defining it."""
    for node in ast.parse(MODULES["rdtheory"].read_text()).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["_LAZY"]:
            return ast.literal_eval(node.value)
    raise AssertionError("rdtheory/__init__.py has no _LAZY table")


LAZY = _lazy_names()


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _target(base: str, name: str) -> str:
    if f"{base}.{name}" in MODULES:  # a submodule: `from rdtheory.figures import costs`
        return f"{base}.{name}"
    return LAZY.get(name, base) if base == "rdtheory" else base  # `from rdtheory import generate_ar`: its module


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads: a name imported from a package is the submodule of that name when
    there is one, the module defining it when the package resolves it lazily, else the package itself."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _resolve(importer, node)
        names = [_target(base, a.name) for a in node.names]
    return [n if n.split(".")[0] == "rdtheory" else n.split(".")[0] for n in names]


def _is_main_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and \
        isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"


def _edges(importer: str) -> list[Edge]:
    edges: list[Edge] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            edges.extend(Edge(importer, t, node.lineno, deferred) for t in dict.fromkeys(_targets(importer, node)))
        for child in ast.iter_child_nodes(node):
            visit(child, deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_main_block(node))

    visit(ast.parse(MODULES[importer].read_text()), False)
    return edges


EDGES = [e for m in MODULES for e in _edges(m)]


def _layer(module: str) -> str:
    """The top-level subpackage or module a module belongs to: "costs" for rdtheory.costs.plan, "config" for
    rdtheory.config, "rdtheory" for the package's own __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_sees_the_imports():
    """The parser finds what it must: a module-level import, a deferred one, a submodule imported by name, a name
    the package resolves lazily."""
    found = {(e.importer, e.target, e.deferred) for e in EDGES}
    assert ("rdtheory.costs.plan", "rdtheory.costs.roofline", False) in found
    assert ("rdtheory.gpu.bench", "torch", True) in found
    assert ("rdtheory.report.markdown", "rdtheory.figures.predictions", False) in found
    assert ("rdtheory.report.sections", "rdtheory.model.checkpoint", True) in found  # from rdtheory import it
    assert len(MODULES) > 100 and len(EDGES) > 500


def test_nothing_outside_the_cli_imports_it():
    wrong = [e for e in EDGES if _in(e.target, "rdtheory.cli") and not _in(e.importer, "rdtheory.cli")]
    assert wrong == []


@pytest.mark.parametrize("package, forbidden", [
    ("rdtheory.theory", ("torch", "rdtheory.sampling", "rdtheory.model", "rdtheory.costs")),
    ("rdtheory.costs", ("torch", "rdtheory.sampling", "rdtheory.model")),
    ("rdtheory.sampling", ("rdtheory.costs", "rdtheory.testing", "rdtheory.figures", "rdtheory.report",
                           "rdtheory.training", "rdtheory.gpu")),
])
def test_lower_layers_import_nothing_above_them(package, forbidden):
    wrong = [e for e in EDGES if _in(e.importer, package) and any(_in(e.target, f) for f in forbidden)]
    assert wrong == []


def test_the_knobs_are_the_ground_floor():
    """The vocabulary of choices imports nothing of the package but itself, and no torch."""
    wrong = [e for e in EDGES if _in(e.importer, "rdtheory.knobs")
             and (e.target == "torch" or (_in(e.target, "rdtheory") and not _in(e.target, "rdtheory.knobs")))]
    assert wrong == []


def test_no_module_imports_another_ones_private_names():
    """A name or module with a leading underscore is its module's or package's own: the package's modules and the
    tests import none from elsewhere (`from rdtheory.x import _y`, or rdtheory.p._m from outside package p)."""
    wrong = []
    for path in [*MODULES.values(), *sorted((ROOT / "tests").rglob("*.py"))]:
        importer = _module_name(path) if path.is_relative_to(PACKAGE) else "tests"
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("rdtheory"):
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            parts = node.module.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not _in(importer, ".".join(parts[:i])):
                    private.append(node.module)
            wrong += [(str(path.relative_to(ROOT)), node.lineno, name) for name in private]
    assert wrong == []


def test_allowed_imports_exist_and_are_deferred():
    """Each allowed crossing is still in the code, and only inside a function or a command block."""
    for (importer, target), reason in DEFERRED_ALLOWED.items():
        edges = [e for e in EDGES if (e.importer, e.target) == (importer, target)]
        assert edges and all(e.deferred for e in edges), (importer, target, edges)
        assert reason, (importer, target)


def test_no_cycle_among_the_top_level_packages():
    graph: dict[str, set[str]] = {}
    for e in EDGES:
        if _in(e.target, "rdtheory") and (e.importer, e.target) not in DEFERRED_ALLOWED:
            a, b = _layer(e.importer), _layer(e.target)
            if a != b:
                graph.setdefault(a, set()).add(b)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    why = {tuple(c): [(e.importer, e.target, e.line) for e in EDGES if _layer(e.importer) in c and
                      _in(e.target, "rdtheory") and _layer(e.target) in c and _layer(e.importer) != _layer(e.target)
                      and (e.importer, e.target) not in DEFERRED_ALLOWED] for c in cycles}
    assert cycles == [], why


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of a directed graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components
