"""The package layout: subpackages in pipeline order, imports only along the flow, no circle.

Every import in `rag/` is read with `ast` (function-level and TYPE_CHECKING imports included, as
they are arrows too) and checked against the stage order below. A module may import from its own
stage or an earlier one, never a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rag"

# Stage order, earliest first: sources -> documents -> chunks -> embeddings -> store -> retrieval
# -> generation -> answer -> summary -> export; the Assistant orders them; eval and the shells sit on top.
STAGES: list[tuple[str, ...]] = [
    ("rag.types", "rag.errors", "rag.thresholds"),
    ("rag.config",),
    ("rag.models",),
    ("rag.ingest",),
    ("rag.embed",),
    ("rag.store",),
    ("rag.retrieve",),
    ("rag.generate",),
    ("rag.answer",),
    ("rag.summary",),
    ("rag.export",),
    ("rag.assistant", "rag.api", "rag.serialize", "rag.watch", "rag"),
    ("rag.eval",),
    ("rag.training",),
    ("rag.cli", "rag.server", "rag.__main__"),
]
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The project module `name` refers to (a name imported from a package may be a module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target == "rag" or target.startswith("rag."):
                module = resolve(target, known)
                if module and module != name:
                    found.add(module)
    return found


def stage_of(module: str) -> int:
    best = -1, -1
    for rank, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best, (len(prefix), rank))
    assert best[1] >= 0, f"{module} belongs to no stage: add it to STAGES"
    return best[1]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_imports_follow_the_pipeline():
    against = [f"{a} -> {b}" for a, targets in graph().items() for b in sorted(targets)
               if b != "rag" and stage_of(b) > stage_of(a)]
    assert against == [], "imports against the flow:\n" + "\n".join(against)


def test_no_import_circle():
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w == "rag":
                continue  # the package's own re-exports, checked below
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
            if len(component) > 1:
                circles.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    assert circles == []


def test_top_level_reexports_import_only_shared_records():
    assert stage_of("rag.types") == 0
    eager = imports("rag", PACKAGE / "__init__.py", modules()) - {"rag.assistant", "rag.serialize"}
    assert all(stage_of(m) <= stage_of("rag.config") for m in eager), eager


def test_the_checker_sees_a_circle_and_an_arrow_against_the_flow(tmp_path):
    fake = {"rag.answer.x": tmp_path / "x.py", "rag.summary.y": tmp_path / "y.py"}
    fake["rag.answer.x"].write_text("from rag.summary.y import f\n")
    fake["rag.summary.y"].write_text("def f():\n    from rag.answer import x\n")
    assert imports("rag.answer.x", fake["rag.answer.x"], fake) == {"rag.summary.y"}
    assert imports("rag.summary.y", fake["rag.summary.y"], fake) == {"rag.answer.x"}
    assert stage_of("rag.summary.y") > stage_of("rag.answer.x")  # so x -> y is against the flow


def test_every_module_is_short():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_shells_protocol_is_what_the_assistant_and_the_test_fake_offer(tmp_path):
    from rag.api import AssistantAPI, ChatAPI
    from rag.assistant import Assistant
    from rag.config import Settings
    from tests.server_fixtures import FakeAssistant

    real = Assistant(Settings(index_dir=tmp_path / "index"))
    fake = FakeAssistant(tmp_path / "fake")
    assert isinstance(real, AssistantAPI) and isinstance(fake, AssistantAPI)
    assert isinstance(fake.chat(), ChatAPI)
    assert isinstance(real.chat(), ChatAPI)  # a session is built lazily: no model loads here


def test_the_tests_mirror_the_package():
    tests = Path(__file__).resolve().parent
    folders = sorted(p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    assert folders and all((PACKAGE / name).is_dir() for name in folders), folders
