"""Tar archives as a source: walk reads members as a stream, put reads their bytes from the archive.

Issue #4: ``s3pput-walk --walk tar`` on plain, gzip, bzip2 and xz archives;
nothing is extracted to disk. End to end against the real server, every
object's bytes are the member's; a second run skips them; a record that no
longer matches its archive fails instead of uploading other bytes.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json, to_json
from s3pput.walk.local_tree import WalkOptions
from s3pput.walk.tar_members import iter_archives, iter_members

MiB = 1 << 20

FILES = {
    "site/index.html": b"<h1>hi</h1>",
    "site/css/a.css": b"body{}",
    "site/empty.txt": b"",
    "site/big.bin": os.urandom(20 * MiB + 123),
    "site/caf\u00e9 space.txt": b"unicode name",
}


def make_archive(path: Path, mode: str) -> Path:
    """A tar with FILES, a directory, a hard link, a symlink, a fifo and a '..' name."""
    open_tar: Any = tarfile.open  # its overloads want each mode as a literal
    with open_tar(path, mode, format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo("site/css")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("site/again.html")
        link.type, link.linkname = tarfile.LNKTYPE, "site/index.html"
        tar.addfile(link)
        symlink = tarfile.TarInfo("site/sym")
        symlink.type, symlink.linkname = tarfile.SYMTYPE, "index.html"
        tar.addfile(symlink)
        fifo = tarfile.TarInfo("site/fifo")
        fifo.type = tarfile.FIFOTYPE
        tar.addfile(fifo)
        sneaky = tarfile.TarInfo("site/../../etc/passwd")
        sneaky.size = 1
        tar.addfile(sneaky, io.BytesIO(b"x"))
    return path


EXPECTED = {
    **{f"p/{k}": v for k, v in FILES.items()},
    "p/site/again.html": FILES["site/index.html"],
}


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_walk_records(mode: str, tmp_path: Path) -> None:
    """Every file member once, with its offset; other members as walk failures."""
    archive = make_archive(tmp_path / "a.tar", mode)
    found = list(iter_members(str(archive), WalkOptions(prefix="p")))
    good = {r.key: r for r in found if r.status is None}
    assert set(good) == set(EXPECTED)
    for record in good.values():
        assert record.path == str(archive)
        assert record.size == len(EXPECTED[str(record.key)])
        assert record.offset is not None
        assert record.offset % 512 == 0
    assert good["p/site/again.html"].offset == good["p/site/index.html"].offset
    failed = {r.member: r.error for r in found if r.status == "failed"}
    assert failed == {
        "site/sym": "not a regular file (symbolic link)",
        "site/fifo": "not a regular file (fifo)",
        "site/../../etc/passwd": "member name has '..': site/../../etc/passwd",
    }
    assert all(r.stage == "walk" for r in found if r.status == "failed")


def test_offsets_point_at_the_bytes_in_a_plain_archive(tmp_path: Path) -> None:
    """Reading ``size`` bytes at ``offset`` of the archive gives the member, for every member."""
    archive = make_archive(tmp_path / "a.tar", "w")
    data = archive.read_bytes()
    found = {}
    for record in iter_members(str(archive), WalkOptions()):
        if record.status is None:
            assert record.offset is not None
            assert record.size is not None
            found[record.member] = data[record.offset : record.offset + record.size]
    assert found == {**FILES, "site/again.html": FILES["site/index.html"]}


def test_exclude_and_limit_apply_to_members(tmp_path: Path) -> None:
    """--exclude matches a member's name or path; --limit counts file records only."""
    archive = str(make_archive(tmp_path / "a.tar", "w"))
    keys = [r.key for r in iter_members(archive, WalkOptions(exclude=("*.bin", "css/*")))]
    assert "site/big.bin" not in keys
    assert "site/index.html" in keys
    limited = list(iter_archives([archive], WalkOptions(limit=2)))
    assert sum(r.status is None for r in limited) == 2


def test_a_damaged_or_missing_archive_is_a_failed_record(tmp_path: Path) -> None:
    """Never a traceback: what can be read comes out, then one failure says why."""
    missing = list(iter_members(str(tmp_path / "none.tar"), WalkOptions()))
    assert [r.status for r in missing] == ["failed"]
    assert "cannot read tar archive" in str(missing[0].error)
    archive = make_archive(tmp_path / "a.tar.gz", "w:gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    records = list(iter_members(str(cut), WalkOptions()))
    assert records[-1].status == "failed"
    assert "damaged or cut short" in str(records[-1].error)


def run(command: list[str], env: dict[str, str], data: bytes = b"") -> list[Record]:
    """Run a command; its output records (no traceback allowed)."""
    done = subprocess.run(
        command, input=data, env=env, capture_output=True, timeout=300, check=False
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return [from_json(line) for line in done.stdout.splitlines()]


def stored(s3: Any, bucket: str) -> dict[str, bytes]:
    """Every object's bytes, by key."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz"])
def test_members_go_up_with_their_bytes_and_are_skipped_next_time(
    mode: str, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Walk, then put: the bucket holds each member; a second run uploads nothing."""
    archive = make_archive(tmp_path / "a.tar", mode)
    walked = run(["s3pput-walk", "--walk", "tar", str(archive), "--prefix", "p"], s3_env)
    data = b"".join(to_json(r) for r in walked)
    first = run(["s3pput-put", "--bucket", bucket], s3_env, data)
    assert len(first) == len(walked)
    uploaded = {r.key: r for r in first if r.status == "uploaded"}
    assert set(uploaded) == set(EXPECTED)
    assert str(uploaded["p/site/big.bin"].etag).endswith("-3")
    assert uploaded["p/site/index.html"].content_type == "text/html"
    assert stored(s3, bucket) == EXPECTED
    second = run(["s3pput-put", "--bucket", bucket], s3_env, data)
    assert {(r.key, r.status, r.reason) for r in second if r.status != "failed"} == {
        (k, "skipped", "unchanged") for k in EXPECTED
    }


def test_a_record_that_no_longer_matches_its_archive_fails(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """A wrong offset or size fails with a reason; nothing is uploaded for it."""
    archive = make_archive(tmp_path / "a.tar", "w")
    [good] = [r for r in iter_members(str(archive), WalkOptions()) if r.member == "site/index.html"]
    assert good.offset is not None
    assert good.size is not None
    bad = [
        good.evolve(offset=good.offset + 512),
        good.evolve(size=good.size + 1),
        good.evolve(offset=7),
        good.evolve(offset=None),
    ]
    bad = [record.evolve(key=f"bad-{n}") for n, record in enumerate(bad)]  # not duplicates
    results = run(["s3pput-put", "--bucket", bucket], s3_env, b"".join(map(to_json, bad)))
    errors = {(r.offset, r.size): str(r.error) for r in results if r.status == "failed"}
    assert errors == {
        (good.offset + 512, good.size): errors[(good.offset + 512, good.size)],
        (good.offset, good.size + 1): f"archive changed: member 'site/index.html' has "
        f"{good.size} bytes, not {good.size + 1}",
        (7, good.size): "offset 7 is not where a tar member's bytes can start",
        (None, good.size): "a tar member record needs path, offset and size "
        "(s3pput-walk --walk tar)",
    }
    assert errors[(good.offset + 512, good.size)].startswith("no tar header before offset")
    assert stored(s3, bucket) == {}


def test_a_compressed_archive_read_out_of_order_still_gives_each_member(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Records in reverse order (a replay): the reader starts again from the top when it must."""
    archive = make_archive(tmp_path / "a.tar.gz", "w:gz")
    walked = [r for r in iter_members(str(archive), WalkOptions(prefix="p")) if r.status is None]
    data = b"".join(to_json(r) for r in reversed(walked))
    results = run(["s3pput-put", "--bucket", bucket, "-j", "1"], s3_env, data)
    assert {r.status for r in results} == {"uploaded"}
    assert stored(s3, bucket) == EXPECTED


def test_the_one_command_form_walks_archives_too(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """s3pput --walk tar ARCHIVE --bucket B."""
    archive = make_archive(tmp_path / "a.tar.bz2", "w:bz2")
    output = tmp_path / "run.ndjson"
    command = ["s3pput", "--walk", "tar", "--prefix", "p", "--bucket", bucket, "-o", str(output)]
    done = subprocess.run(
        [*command, str(archive)], env=s3_env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 1  # the symlink, the fifo and the '..' member
    assert b"uploaded: 6" in done.stdout
    results = [from_json(line) for line in output.read_bytes().splitlines()]
    assert {r.key for r in results if r.status == "uploaded"} == set(EXPECTED)
    assert stored(s3, bucket) == EXPECTED
