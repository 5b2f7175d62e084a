"""The README's pipelines, run as real shell pipes against the real server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3


def sh(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a pipeline with bash; PIPESTATUS is echoed on stderr's last line by the script."""
    return subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, timeout=240, check=False
    )


def records(data: bytes) -> list[Record]:
    """Parse every line of a stage's output."""
    return [from_json(line) for line in data.splitlines() if line.strip()]


def objects(s3: Any, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket with its bytes."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


@pytest.fixture(name="site")
def fixture_site(tmp_path: Path) -> Path:
    """A small tree with text, binary, nested, hostile and temporary files."""
    root = tmp_path / "site"
    for rel, data in {
        "index.html": b"<h1>hi</h1>",
        "css/a.css": b"body{}",
        "img/logo.png": os.urandom(3000),
        "deep/er/still/x.txt": b"x",
        "-leading dash.txt": b"dash",
        'quote"and space.txt': b"q",
        "draft.tmp": b"temporary",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # A name with a line break fails by default since #5 (test_hostile.py covers it).
    (root / "100%25 & co (1).txt").write_bytes(b"percent")
    Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9.txt")).write_bytes(b"latin-1 name")
    return root


def local_files(root: Path) -> dict[str, bytes]:
    """The tree's files by the key walk gives them (no prefix)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            rel = os.fsencode(path.relative_to(root))
            key = rel.decode("utf-8", "surrogateescape")
            found[key.replace("\udce9", "%E9")] = path.read_bytes()
    return found


class TestPipelines:
    def test_walk_put_stat(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`s3pput-walk SRC --prefix www | s3pput-put -j 16 | s3pput-stat` uploads every file."""
        result = sh(
            f"s3pput-walk {site} --prefix www | s3pput-put -j 16 --bucket {bucket} "
            "| tee run.ndjson | s3pput-stat; echo ${PIPESTATUS[@]} >&2",
            s3_env,
            tmp_path,
        )
        assert result.stderr.split(b"\n")[-2] == b"0 0 0 0", result.stderr
        expected = {f"www/{k}": v for k, v in local_files(site).items()}
        assert objects(s3, bucket) == expected
        assert b"put " in result.stdout
        assert b"in 9 files" in result.stdout
        run = records((tmp_path / "run.ndjson").read_bytes())
        assert len(run) == 9
        assert {r.status for r in run} == {"uploaded"}

    def test_filter_with_grep_and_jq_between_stages(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Records filtered by grep and extended by jq keep every field through put."""
        result = sh(
            f"s3pput-walk {site} | grep -v '\\.tmp\"' | jq -c '. + {{batch: 7}}' "
            f"| s3pput-put --bucket {bucket} --endpoint-url $AWS_ENDPOINT_URL > run.ndjson",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        run = records((tmp_path / "run.ndjson").read_bytes())
        assert len(run) == 8
        assert all(r.extra == {"batch": 7} for r in run)
        assert "draft.tmp" not in objects(s3, bucket)
        assert "caf%E9.txt" in objects(s3, bucket)

    def test_gnu_parallel_splits_the_records_among_several_puts(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """GNU parallel --pipe hands whole lines to several puts: every file exactly once."""
        for n in range(300):
            (tmp_path / "many" / f"d{n % 4}").mkdir(parents=True, exist_ok=True)
            (tmp_path / "many" / f"d{n % 4}" / f"f{n}.txt").write_text(f"file {n}\n")
        result = sh(
            f"s3pput-walk --count {tmp_path / 'many'} "
            "| parallel --will-cite --pipe --block 4k -j 3 "
            f"s3pput-put --bucket {bucket} --endpoint-url $AWS_ENDPOINT_URL "
            "| tee run.ndjson | s3pput-stat --json > stat.json",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        run = records((tmp_path / "run.ndjson").read_bytes())
        files = [r for r in run if r.key is not None]
        assert len(run) == 301  # the total record went through one of the puts
        assert sorted(str(r.key) for r in files) == sorted(f"d{n % 4}/f{n}.txt" for n in range(300))
        assert {r.status for r in files} == {"uploaded"}
        assert len(objects(s3, bucket)) == 300
        stat = json.loads((tmp_path / "stat.json").read_text())
        assert (stat["uploaded"], stat["total_files"]) == (300, 300)

    def test_replaying_failures_uploads_them(
        self,
        site: Path,
        s3_env: dict[str, str],
        s3_server: LocalS3,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """Failures selected with jq from a run file upload when fed back to put.

        The first run has read-only keys, so every PUT is denied (a missing
        bucket would stop put before the first record instead).
        """
        reader = {
            **s3_env,
            "AWS_ACCESS_KEY_ID": s3_server.reader_access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.reader_secret_key,
        }
        sh(f"s3pput-walk {site} | s3pput-put --bucket {bucket} > run.ndjson", reader, tmp_path)
        first = records((tmp_path / "run.ndjson").read_bytes())
        assert {r.status for r in first} == {"failed"}
        assert all("AccessDenied" in (r.error or "") for r in first)
        result = sh(
            "jq -c 'select(.status==\"failed\")' run.ndjson "
            f"| s3pput-put --bucket {bucket} | s3pput-stat --json",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["uploaded"], summary["failed"]) == (9, 0)
        assert objects(s3_server.client(), bucket) == local_files(site)

    def test_second_run_skips_everything(
        self, site: Path, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """Running the same pipeline again uploads nothing and says skipped for each file."""
        script = f"s3pput-walk {site} | s3pput-put --bucket {bucket} | s3pput-stat --json"
        sh(script, s3_env, tmp_path)
        summary = json.loads(sh(script, s3_env, tmp_path).stdout)
        assert (summary["uploaded"], summary["skipped"]) == (0, 9)

    def test_walk_head_ends_quietly(
        self, site: Path, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """`s3pput-walk | head -1` exits 0 without a traceback or an error line."""
        script = f"s3pput-walk {site} | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
        result = sh(script, s3_env, tmp_path)
        assert result.stdout.strip() == b"0"
        for line in result.stderr.splitlines():  # only the warning about the non-UTF-8 name
            assert b"level=warning" in line
            assert b"not UTF-8" in line or b"%E9" in line


class TestOneCommand:
    def test_original_command_line(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`s3-parallel-put --bucket=B --prefix=P SRC` uploads the tree and prints the summary."""
        result = sh(
            f"s3-parallel-put --bucket={bucket} --prefix=www --processes=4 --content-type=guess "
            f"--put=update --exclude='*.tmp' {site} --output run.ndjson",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"put ")
        stored = objects(s3, bucket)
        assert len(stored) == 8
        assert "www/draft.tmp" not in stored
        assert len(records((tmp_path / "run.ndjson").read_bytes())) == 8

    def test_walk_threads_and_no_stat_in_one_command(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """The one command takes walk's --walk-threads and --no-stat: every file, its bytes."""
        result = sh(
            f"s3pput --bucket {bucket} --walk-threads 4 --no-stat {site} -o run.ndjson",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert objects(s3, bucket) == local_files(site)
        assert len(records((tmp_path / "run.ndjson").read_bytes())) == len(local_files(site))

    def test_resume_skips_what_a_run_uploaded(
        self, site: Path, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """--resume FILE reports keys an earlier run uploaded as skipped, not uploaded."""
        sh(f"s3pput --bucket {bucket} --limit 3 {site} -o first.ndjson", s3_env, tmp_path)
        result = sh(
            f"s3pput --bucket {bucket} {site} --resume first.ndjson -o second.ndjson --json",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        second = records((tmp_path / "second.ndjson").read_bytes())
        reasons = [r.reason for r in second if r.status == "skipped"]
        assert reasons == ["resumed"] * 3
        assert sum(r.status == "uploaded" for r in second) == 6

    def test_dry_run_uploads_nothing(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """--dry-run reports every file as planned and leaves the bucket empty."""
        result = sh(f"s3pput --bucket {bucket} --dry-run --json {site}", s3_env, tmp_path)
        assert json.loads(result.stdout)["planned"] == 9
        assert objects(s3, bucket) == {}

    def test_bytes_verified_after_upload(
        self, site: Path, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Each record's md5 is the MD5 of the local file and of the stored object."""
        result = sh(f"s3pput --bucket {bucket} {site} -o run.ndjson", s3_env, tmp_path)
        assert result.returncode == 0, result.stderr
        uploaded = records((tmp_path / "run.ndjson").read_bytes())
        files = [path for path in site.rglob("*") if path.is_file()]
        assert len(uploaded) == len(files) == 9
        for record in uploaded:
            assert record.status == "uploaded", record
            local = Path(str(record.path)).read_bytes()
            stored = s3.get_object(Bucket=bucket, Key=record.key)["Body"].read()
            assert stored == local
            assert hashlib.md5(stored).hexdigest() == record.md5  # noqa: S324  # S3's ETag algorithm


class TestS3Source:
    def test_walk_an_s3_prefix_and_copy_it_server_side(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """s3pput-walk s3://SRC/p | s3pput-put --put copy: the same bytes under the new prefix."""
        source = {"src/a.txt": b"a", "src/d/b.bin": b"bb" * 100, "srcx/not-me": b"x", "src/d/": b""}
        for key, body in source.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        target = f"target-{bucket[5:]}"
        s3.create_bucket(Bucket=target)
        done = sh(
            f"s3pput-walk s3://{bucket}/src --prefix copied"
            f" | s3pput-put --bucket {target} --put copy | tee out.ndjson | s3pput-stat",
            s3_env,
            tmp_path,
        )
        assert done.returncode == 0, done.stderr
        results = records((tmp_path / "out.ndjson").read_bytes())
        assert {(r.key, r.status) for r in results} == {
            ("copied/a.txt", "uploaded"),
            ("copied/d/b.bin", "uploaded"),
        }
        assert objects(s3, target) == {"copied/a.txt": b"a", "copied/d/b.bin": b"bb" * 100}

    def test_one_object_and_a_missing_bucket(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """s3://b/key names one object (keyed by its last part); a missing bucket exits 1."""
        s3.put_object(Bucket=bucket, Key="dir/one.txt", Body=b"1")
        one = sh(f"s3pput-walk s3://{bucket}/dir/one.txt --prefix p", s3_env, tmp_path)
        [record] = records(one.stdout)
        assert (record.key, record.size, record.extra["source_key"]) == (
            "p/one.txt",
            1,
            "dir/one.txt",
        )
        missing = sh("s3pput-walk s3://no-such-bucket-s3pput/x", s3_env, tmp_path)
        assert missing.returncode == 1
        assert b"NoSuchBucket" in missing.stderr
        assert b"Traceback" not in missing.stderr

    def test_an_object_above_the_copy_threshold_is_copied_in_parts(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Parts of at most the threshold; the source's type and metadata kept, the bytes equal."""
        body = os.urandom(40 * 1024 * 1024 + 5)
        s3.put_object(
            Bucket=bucket,
            Key="src/big.bin",
            Body=body,
            ContentType="application/x-big",
            Metadata={"owner": "me"},
        )
        target = f"target-{bucket[5:]}"
        s3.create_bucket(Bucket=target)
        done = sh(
            f"s3pput-walk s3://{bucket}/src | s3pput-put --bucket {target} --put copy"
            " --copy-threshold 8M",
            s3_env,
            tmp_path,
        )
        assert done.returncode == 0, done.stderr
        [result] = records(done.stdout)
        assert result.status == "uploaded", result.error
        assert str(result.etag).endswith("-6")  # 5 parts of 8 MiB and the rest
        head = s3.head_object(Bucket=target, Key="big.bin")
        assert (head["ContentType"], head["Metadata"]) == ("application/x-big", {"owner": "me"})
        assert s3.get_object(Bucket=target, Key="big.bin")["Body"].read() == body
        assert s3.list_multipart_uploads(Bucket=target).get("Uploads", []) == []
