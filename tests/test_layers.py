"""The layers of DESIGN.md, enforced: no import goes up the layer order, no import cycle, no
protocol imports another protocol, and ``import pyprivml`` loads only the math layers.

Every module's imports are read with ``ast`` (function-level imports included, since a lazy
import is still a dependency), resolved to pyprivml modules, and checked against :data:`LAYERS`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pyprivml"

#: Bottom to top; a module may import modules of its own layer or of layers below it.
LAYERS = [
    ("backends", ("pyprivml._native", "pyprivml.backends")),
    ("math", ("pyprivml.field", "pyprivml._poly", "pyprivml.interop", "pyprivml.crt", "pyprivml.linalg",
              "pyprivml.quantization", "pyprivml.lagrange",
              "pyprivml.shamir", "pyprivml.reedsolomon", "pyprivml.random", "pyprivml.threads", "pyprivml.sketch",
              "pyprivml.dp")),
    ("support", ("pyprivml.data", "pyprivml.report", "pyprivml.figure")),
    ("comm", ("pyprivml.comm", "pyprivml.simulate")),
    ("protocols", ("pyprivml.protocols",)),
    ("application", ("pyprivml.estimators", "pyprivml.plot", "pyprivml.cli", "pyprivml.__main__", "pyprivml")),
]
PROTOCOL_PACKAGES = ("codedprivateml", "mpc", "gal", "irene", "gradientcoin")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
EXTENSIONS = {"pyprivml._native"}   # compiled: a module without a .py file


def layer_of(name: str) -> int:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level is not None, f"module {name} belongs to no layer of tests/test_layers.py"
    return level


def imports_of(name: str) -> set:
    """The pyprivml modules ``name`` imports (``from . import x`` resolved to the module x if it is one)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [f"{module}.{alias.name}" for alias in node.names
                          if f"{module}.{alias.name}" in MODULES.keys() | EXTENSIONS]
            # ``from pkg import sub`` imports the module sub, not pkg's own names (pkg's __init__
            # still runs, but a package's __init__ is at or below the layer of its modules)
            targets = submodules if len(submodules) == len(node.names) else [module] + submodules
        else:
            continue
        for target in targets:
            if target == "pyprivml" or target.startswith("pyprivml."):
                while target not in MODULES.keys() | EXTENSIONS and "." in target:
                    target = target.rpartition(".")[0]
                if target in MODULES.keys() | EXTENSIONS and target != name:
                    found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def protocol_package(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) >= 3 and parts[1] == "protocols" and parts[2] in PROTOCOL_PACKAGES:
        return parts[2]
    return None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_goes_up_the_layers(name):
    if name == "pyprivml":   # the façade: eager imports of the math layers, lazy (PEP 562) for the rest
        return
    mine = layer_of(name)
    upward = sorted(t for t in GRAPH[name] if layer_of(t) > mine)
    assert not upward, (f"{name} ({LAYERS[mine][0]} layer) imports {upward} from layers above it "
                        f"({', '.join(LAYERS[layer_of(t)][0] for t in upward)})")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if protocol_package(n)))
def test_no_protocol_imports_another_protocol(name):
    other = sorted(t for t in GRAPH[name] if protocol_package(t) not in (None, protocol_package(name)))
    assert not other, f"{name} imports another protocol's modules {other}; share through pyprivml/protocols/"


def test_the_skeleton_imports_no_protocol():
    for name, targets in GRAPH.items():
        if name.startswith("pyprivml.protocols") and protocol_package(name) is None and name != "pyprivml.protocols.compare":
            assert not [t for t in targets if protocol_package(t)], f"{name} imports a protocol package"


def test_no_import_cycles():
    """Depth-first search on the module graph; package __init__ re-exports of their own children
    are not cycles (a child importing its package's sibling through the package would be)."""
    graph = {n: {t for t in ts if not t.startswith(n + ".") and t in GRAPH} for n, ts in GRAPH.items()}
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for t in sorted(graph[n]):
            if state.get(t) == "open":
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[n] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n)


def test_the_graph_sees_real_imports():
    # guards the test itself: known edges must be found, or every check above would pass vacuously
    assert "pyprivml.backends" in GRAPH["pyprivml.linalg"]
    assert "pyprivml.protocols.regression" in GRAPH["pyprivml.protocols.codedprivateml.roles"]
    assert layer_of("pyprivml.protocols.mpc.training") > layer_of("pyprivml.comm.mpi") > layer_of("pyprivml.field")


def test_import_pyprivml_loads_only_the_math_layers():
    code = ("import sys, pyprivml; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith(('pyprivml', 'mpi4py', 'torch', "
            "'sklearn', 'numba', 'scipy', 'tqdm', 'matplotlib')))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = [m for m in loaded if not m.startswith("pyprivml")]
    assert not heavy, f"import pyprivml loaded {heavy}"
    above = [m for m in loaded if m != "pyprivml" and layer_of(m) > 1]
    assert not above, f"import pyprivml loaded modules above the math layers: {above}"
    assert "pyprivml.linalg" in loaded


def test_lazy_names_still_work():
    code = ("import pyprivml as pp; "
            "assert pp.CodedPrivateLogisticRegression.__name__ == 'CodedPrivateLogisticRegression'; "
            "assert pp.dp.ClippedGaussian and pp.sketch.make; import sys; print('pyprivml.estimators' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
