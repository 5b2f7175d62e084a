"""The layout's rules, read from the source: no import cycle, boto in the transport, stages apart.

Pure: every module of s3pput/ is parsed (never imported), and every import
it makes counts, inside functions too, except those under ``if
TYPE_CHECKING:``, which never run (one test counts those too: a module that
names another's class in its annotations still knows it).
docs/architecture.md says why each rule holds; a failure names the
importing file, its line and what it imports.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final, NamedTuple

import pytest

SOURCE: Final = Path(__file__).resolve().parents[2] / "s3pput"
"""The package's source tree (tests/unit/ is two levels below the repository)."""

BOTO: Final = frozenset({"boto3", "botocore", "awscrt", "s3transfer"})
"""The AWS libraries (s3transfer comes with boto3): only the transport may import them."""

STAGES: Final = ("walk", "put", "stat")
"""The packages that meet only through records."""


class Import(NamedTuple):
    """One import statement's target, and where it is."""

    importer: str
    """The importing module, dotted (``s3pput.put.uploader``)."""
    imported: str
    """The module it names, dotted: ``from a import b`` is ``a.b`` when b is a module of ours."""
    file: Path
    line: int
    for_types: bool = False
    """Under ``if TYPE_CHECKING:``: for annotations only, it never runs."""

    def __str__(self) -> str:
        where = self.file.relative_to(SOURCE.parent)
        return f"{where}:{self.line}: {self.importer} imports {self.imported}"


def module_name(path: Path, root: Path) -> str:
    """``s3pput/put/uploader.py`` is ``s3pput.put.uploader``; an ``__init__`` is its package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def nodes(node: ast.AST, *, for_types: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node``, and whether it is for annotations only (``if TYPE_CHECKING:``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and is_type_checking(child.test):
            for inner in child.body:
                yield inner, True
                yield from nodes(inner, for_types=True)
            for other in child.orelse:  # the else runs
                yield other, for_types
                yield from nodes(other, for_types=for_types)
            continue
        yield child, for_types
        yield from nodes(child, for_types=for_types)


def imports_of(source: str, importer: str, file: Path, modules: Iterable[str]) -> list[Import]:
    """The imports a module makes, by the dotted names they reach."""
    known = set(modules)
    package = importer if file.name == "__init__.py" else importer.rpartition(".")[0]
    found = []
    for node, for_types in nodes(ast.parse(source, filename=str(file))):
        if isinstance(node, ast.Import):
            found += [
                Import(importer, alias.name, file, node.lineno, for_types) for alias in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from its own package up
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            reached = {
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            }
            found += [Import(importer, r, file, node.lineno, for_types) for r in sorted(reached)]
    return found


def read_package(root: Path) -> list[Import]:
    """Every import of every module under ``root``."""
    paths = sorted(root.rglob("*.py"))
    modules = [module_name(path, root) for path in paths]
    found = []
    for path, name in zip(paths, modules, strict=True):
        found += imports_of(path.read_text(encoding="utf-8"), name, path, modules)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for after in graph.get(todo.pop(), set()) - seen:
            seen.add(after)
            todo.append(after)
    return seen


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Each group of modules that import each other, through a ring of any length.

    A module importing itself is no cycle.
    """
    graph: dict[str, set[str]] = {}
    for start, end in edges:
        if start != end:
            graph.setdefault(start, set()).add(end)
    reach = {module: reachable(graph, module) for module in graph}
    groups = {
        tuple(sorted({module} | {m for m in reach[module] if module in reach.get(m, set())}))
        for module in graph
        if module in reach[module]
    }
    return sorted(list(group) for group in groups)


def ours(module: str) -> bool:
    """A module of s3pput (not the standard library nor a dependency)."""
    return module == "s3pput" or module.startswith("s3pput.")


def area(module: str) -> str:
    """Where a module lives: its package below s3pput (``put``, ``cli``...), or ``top``.

    ``outside`` for the standard library and the dependencies.
    """
    if not ours(module):
        return "outside"
    parts = module.split(".")
    if len(parts) > 1 and (SOURCE / parts[1]).is_dir():
        return parts[1]
    return "top"


@pytest.fixture(name="every_import", scope="module")
def fixture_every_import() -> list[Import]:
    """Every import in s3pput/, those for annotations only too."""
    return read_package(SOURCE)


@pytest.fixture(name="imports", scope="module")
def fixture_imports(every_import: list[Import]) -> list[Import]:
    """Every import in s3pput/ that runs."""
    return [found for found in every_import if not found.for_types]


def offending(
    imports: list[Import], importer: Callable[[str], bool], imported: Callable[[str], bool]
) -> str:
    """The imports by a module ``importer`` accepts of a module ``imported`` accepts, one a line."""
    return "\n".join(
        str(found) for found in imports if importer(found.importer) and imported(found.imported)
    )


class TestTheReader:
    """The rules below pass only if the reader sees imports: these show that it does."""

    def test_an_import_inside_a_function_counts(self) -> None:
        """A late import is still an edge of the graph."""
        source = "def f():\n    from s3pput.put import uploader\n"
        found = imports_of(source, "s3pput.x", Path("x.py"), ["s3pput.put.uploader"])
        assert [i.imported for i in found] == ["s3pput.put.uploader"]

    def test_type_checking_imports_are_for_types_but_their_else_runs(self) -> None:
        """Imports for annotations never run."""
        source = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import botocore.client\nelse:\n    import json\n"
        )
        found = imports_of(source, "s3pput.x", Path("x.py"), [])
        assert [(i.imported, i.for_types) for i in found] == [
            ("typing", False),
            ("botocore.client", True),
            ("json", False),
        ]

    def test_relative_imports_are_resolved_from_the_package(self) -> None:
        """``from .parts import X`` in put/ is s3pput.put.parts; ``from .. import keys`` is keys."""
        source = "from .parts import X\nfrom .. import keys\n"
        modules = ["s3pput.put.parts", "s3pput.keys"]
        found = imports_of(source, "s3pput.put.uploader", Path("uploader.py"), modules)
        assert [i.imported for i in found] == ["s3pput.put.parts", "s3pput.keys"]

    def test_a_ring_of_three_is_one_cycle_and_a_chain_is_none(self) -> None:
        """A ring a, b, c is one cycle; d importing a, and e importing itself, are none."""
        edges = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "e")]
        assert cycles(edges) == [["a", "b", "c"]]
        assert cycles([("a", "b"), ("b", "c")]) == []

    def test_the_package_is_read(self, imports: list[Import]) -> None:
        """Every stage is found, with imports of its own: the rules below are not vacuous."""
        importers = {area(i.importer) for i in imports}
        assert area("boto3.session") == area("json") == "outside"
        assert {"top", "walk", "put", "stat", "transport", "cli", "sandbox"} <= importers
        assert any(i.imported.split(".")[0] in BOTO for i in imports)


def test_no_import_cycle(imports: list[Import]) -> None:
    """No ring of modules importing each other: each can be read, and tested, on its own."""
    found = cycles((i.importer, i.imported) for i in imports if ours(i.imported))
    ring = "\n".join(
        str(i) for group in found for i in imports if i.importer in group and i.imported in group
    )
    assert not found, f"modules importing each other: {found}\n{ring}"


def test_no_import_cycle_even_through_annotations(every_import: list[Import]) -> None:
    """No two modules know each other, not even by a type.

    An operation that takes the whole Uploader (imported for annotations) is
    tied to the module that calls it: #14's knot.
    """
    found = cycles((i.importer, i.imported) for i in every_import if ours(i.imported))
    ring = "\n".join(
        f"{i}{' (for annotations)' if i.for_types else ''}"
        for group in found
        for i in every_import
        if i.importer in group and i.imported in group
    )
    assert not found, f"modules that know each other: {found}\n{ring}"


def test_only_the_transport_imports_boto3_botocore_and_awscrt(imports: list[Import]) -> None:
    """One package knows the AWS libraries and turns their errors into s3pput's."""
    found = offending(imports, lambda m: area(m) != "transport", lambda m: m.split(".")[0] in BOTO)
    assert not found, f"outside s3pput/transport/:\n{found}"


def test_walk_imports_no_put_or_stat(imports: list[Import]) -> None:
    """Walk writes records; what put and stat do with them is theirs."""
    found = offending(imports, lambda m: area(m) == "walk", lambda m: area(m) in {"put", "stat"})
    assert not found, f"walk reaches into another stage:\n{found}"


def test_put_imports_no_walk_or_stat(imports: list[Import]) -> None:
    """Put reads records, whoever wrote them."""
    found = offending(imports, lambda m: area(m) == "put", lambda m: area(m) in {"walk", "stat"})
    assert not found, f"put reaches into another stage:\n{found}"


def test_stat_imports_no_walk_put_or_transport(imports: list[Import]) -> None:
    """Stat sums records; it never talks to S3."""
    found = offending(
        imports, lambda m: area(m) == "stat", lambda m: area(m) in {"walk", "put", "transport"}
    )
    assert not found, f"stat reaches into a stage or the transport:\n{found}"


def test_the_transport_imports_no_stage(imports: list[Import]) -> None:
    """The transport sends what it is asked; policy lives in the stages above it."""
    found = offending(
        imports,
        lambda m: area(m) == "transport",
        lambda m: area(m) in {*STAGES, "cli", "sandbox"},
    )
    assert not found, f"the transport reaches up:\n{found}"


def test_the_top_level_imports_no_stage_package(imports: list[Import]) -> None:
    """The contract at the top (records, NDJSON, keys...) stands on its own."""
    found = offending(
        imports, lambda m: area(m) == "top", lambda m: area(m) not in {"top", "outside"}
    )
    assert not found, f"the contract depends on a stage:\n{found}"


def test_only_the_command_layer_imports_the_command_layer(imports: list[Import]) -> None:
    """cli/ parses arguments and calls the core; nothing calls cli/."""
    found = offending(imports, lambda m: area(m) != "cli", lambda m: area(m) == "cli")
    assert not found, f"outside s3pput/cli/:\n{found}"


def test_no_stage_imports_the_sandbox(imports: list[Import]) -> None:
    """The throwaway server is for demos and tests: uploads never depend on it."""
    found = offending(
        imports, lambda m: area(m) in {*STAGES, "transport"}, lambda m: area(m) == "sandbox"
    )
    assert not found, f"a stage depends on the sandbox:\n{found}"
