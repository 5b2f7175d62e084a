"""s3pput's exceptions live in s3pput/errors.py, and sizes and S3's limits in s3pput/units.py.

A stage raises an error another stage or the command layer catches, and a
limit S3 sets is the same for every stage: each defined once, where every
module can import it without importing another stage. Read from the source
with ``ast``, so no server and no import of the stages is needed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import s3pput

PACKAGE = Path(s3pput.__file__).parent
UNIT_NAMES = frozenset(
    {"KiB", "MiB", "GiB", "TiB", "MIN_PART", "MAX_PART", "MAX_PARTS", "COPY_LIMIT", "MAX_KEY_BYTES"}
)
"""Names units.py defines for everyone."""
EXCEPTION_BASES = frozenset(
    {"Exception", "ValueError", "OSError", "RuntimeError", "LookupError", "TypeError"}
)


def modules() -> Iterator[tuple[str, ast.Module]]:
    """Every module of the package, by its path inside it, parsed."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def is_exception(node: ast.ClassDef, known: set[str]) -> bool:
    """Whether a class derives from an exception (a built-in one, or one of ``known``)."""
    bases = {base.id if isinstance(base, ast.Name) else ast.unparse(base) for base in node.bases}
    return bool(bases & (EXCEPTION_BASES | known)) or node.name.endswith("Error")


def exception_names() -> set[str]:
    """Every exception class the package defines, wherever it is."""
    classes = [node for _, tree in modules() for node in ast.walk(tree)]
    known: set[str] = set()
    while True:  # a class may derive from one of ours defined further on
        found = {
            node.name
            for node in classes
            if isinstance(node, ast.ClassDef) and is_exception(node, known)
        }
        if found == known:
            return known
        known = found


class TestErrors:
    """One module holds s3pput's exceptions."""

    def test_no_public_exception_is_defined_outside_errors_py(self) -> None:
        """A public exception class anywhere but errors.py (and the demo server's) is named."""
        known = exception_names()
        outside = [
            f"{name}: class {node.name}"
            for name, tree in modules()
            if name != "errors.py" and not name.startswith("sandbox/")
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and not node.name.startswith("_")
            and is_exception(node, known)
        ]
        assert outside == [], "define these in s3pput/errors.py and import them from there"

    def test_no_exception_has_a_second_name(self) -> None:
        """``X = SomeError`` at a module's top gives one error two names; none does."""
        known = exception_names()
        aliases = [
            f"{name}: {ast.unparse(node)}"
            for name, tree in modules()
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in known
        ]
        assert aliases == []


class TestUnits:
    """One module holds sizes and the limits S3 sets."""

    def test_units_and_s3_limits_are_defined_only_in_units_py(self) -> None:
        """``MiB = ...`` or ``MAX_PARTS = ...`` anywhere but units.py is named."""
        defined = [
            f"{name}: {target.id}"
            for name, tree in modules()
            if name != "units.py"
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and target.id in UNIT_NAMES
        ]
        assert defined == [], "import these from s3pput/units.py"
