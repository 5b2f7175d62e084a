"""``s3pput-walk --exclude-from FILE`` and ``--include-from FILE``, run for real (#16 item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3pput.records import from_json

WALK = str(Path(sys.executable).parent / "s3pput-walk")


def walk(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-walk in ``cwd`` to completion."""
    return subprocess.run(
        [WALK, *args], cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False
    )


def keys(result: subprocess.CompletedProcess[bytes]) -> list[str | None]:
    """The keys a walk wrote, in order."""
    assert result.returncode == 0, result.stderr
    return [from_json(line).key for line in result.stdout.splitlines()]


@pytest.fixture(name="photos")
def fixture_photos(tmp_path: Path) -> Path:
    """Photos and notes at depths 1, 2 and 3, beside a cache; the patterns go beside it."""
    root = tmp_path / "photos"
    for rel in ("top.jpg", "top.txt", "2024/a.jpg", "2024/a.txt", "2024/june/b.jpg", "cache/c.jpg"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


class TestPatternFiles:
    def test_exclude_from_skips_comments_and_blank_lines(
        self, photos: Path, tmp_path: Path
    ) -> None:
        """One pattern a line; # comments and blank lines are not patterns (a '#' would be)."""
        (photos / "#notes").write_text("kept: '#notes' is a comment, not a pattern")
        (tmp_path / "out.txt").write_text("# no notes, no cache\n\n*.txt\n  cache  \n")
        assert keys(walk("photos", "--exclude-from", "out.txt", cwd=tmp_path)) == [
            "#notes",
            "2024/a.jpg",
            "2024/june/b.jpg",
            "top.jpg",
        ]

    @pytest.mark.usefixtures("photos")
    def test_include_from_with_the_idiom(self, tmp_path: Path) -> None:
        """--exclude '*' --include-from FILE keeps what the file's patterns match, at any depth."""
        (tmp_path / "in.txt").write_text("*.jpg\n")
        found = keys(walk("photos", "--exclude", "*", "--include-from", "in.txt", cwd=tmp_path))
        assert found == ["2024/a.jpg", "2024/june/b.jpg", "cache/c.jpg", "top.jpg"]

    @pytest.mark.usefixtures("photos")
    def test_where_the_flags_stand_does_not_matter(self, tmp_path: Path) -> None:
        """Filters from files and from flags have no order: an include wins wherever it stands."""
        (tmp_path / "in.txt").write_text("a.*\n")
        (tmp_path / "out.txt").write_text("*\n")
        orders = [
            ["--exclude-from", "out.txt", "--include-from", "in.txt"],
            ["--include-from", "in.txt", "--exclude-from", "out.txt"],
            ["--include", "a.*", "--exclude-from", "out.txt"],
            ["--exclude-from", "out.txt", "--include", "a.*"],
        ]
        found = [keys(walk("photos", *order, cwd=tmp_path)) for order in orders]
        assert found == [["2024/a.jpg", "2024/a.txt"]] * 4

    @pytest.mark.usefixtures("photos")
    def test_patterns_from_stdin(self, tmp_path: Path) -> None:
        """--exclude-from - reads the patterns from standard input."""
        result = walk("photos", "--exclude-from", "-", cwd=tmp_path, stdin=b"2024\ncache\n")
        assert keys(result) == ["top.jpg", "top.txt"]

    def test_a_name_that_is_not_utf8_is_matched(self, photos: Path, tmp_path: Path) -> None:
        """A pattern file's bytes are taken as the walk takes names: not UTF-8 matches too."""
        Path(os.fsdecode(os.fsencode(photos) + b"/caf\xe9.jpg")).write_text("x")
        (tmp_path / "out.txt").write_bytes(b"caf\xe9*\n*.txt\n")
        result = walk("photos", "--exclude-from", "out.txt", cwd=tmp_path)
        assert keys(result) == ["2024/a.jpg", "2024/june/b.jpg", "cache/c.jpg", "top.jpg"]


class TestPatternFileMistakes:
    @pytest.mark.usefixtures("photos")
    def test_a_missing_file_is_a_usage_error(self, tmp_path: Path) -> None:
        """A pattern file that cannot be read: one line naming it, exit 2, nothing walked."""
        result = walk("photos", "--include-from", "nope.txt", cwd=tmp_path)
        assert result.returncode == 2
        assert b"cannot read --include-from nope.txt" in result.stderr
        assert len(result.stderr.splitlines()) <= 5
        [stop] = [from_json(line) for line in result.stdout.splitlines()]
        assert stop.status == "failed"

    @pytest.mark.usefixtures("photos")
    def test_stdin_is_read_once(self, tmp_path: Path) -> None:
        """Two lists cannot both come from standard input."""
        result = walk("--files-from", "-", "--exclude-from", "-", cwd=tmp_path, stdin=b"")
        assert result.returncode == 2
        assert b"standard input can be read once" in result.stderr


class TestDocumented:
    README = Path(__file__).resolve().parents[2] / "README.md"

    @pytest.mark.parametrize(
        ("jq", "kept"),
        [
            ("select(.size > 1048576)", ["big.bin"]),
            ("select(.mtime > now - 7*86400)", ["big.bin", "new.txt"]),
        ],
        ids=["size", "age"],
    )
    def test_the_readme_filters_by_size_and_age_with_jq(
        self, tmp_path: Path, jq: str, kept: list[str]
    ) -> None:
        """The README's jq lines between walk and put keep files over 1 MiB, or of the last week."""
        assert f"s3pput-walk data | jq -c '{jq}' | s3pput-put" in self.README.read_text()
        data = tmp_path / "data"
        data.mkdir()
        (data / "big.bin").write_bytes(b"x" * (1048576 + 1))
        (data / "new.txt").write_text("new")
        (data / "old.txt").write_text("old")
        month_ago = (data / "old.txt").stat().st_mtime - 30 * 86400
        os.utime(data / "old.txt", (month_ago, month_ago))
        result = subprocess.run(
            ["bash", "-c", f"{WALK} data | jq -c '{jq}'"],
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert [from_json(line).key for line in result.stdout.splitlines()] == kept

    def test_help_and_readme_give_the_rule_and_the_idiom(self) -> None:
        """--help and the README show the aws idiom and the pattern files."""
        shown = walk("--help", cwd=Path.cwd()).stdout.decode()
        readme = self.README.read_text()
        for text in (shown, readme):
            assert "--exclude '*' --include '*.jpg'" in text
            assert "--exclude-from" in text
            assert "the order" in text.lower()
