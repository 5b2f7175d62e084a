"""Every s3pput-put option, spelled as users spell it, reaches S3 as meant."""

from __future__ import annotations

import gzip
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_cli_stat import read_pty

from s3pput.cli import main as one_command
from s3pput.cli import put as put_command
from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3

MiB = 1 << 20


def put(
    env: dict[str, str], lines: bytes, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-put with records on stdin."""
    return subprocess.run(
        ["s3pput-put", *args],
        input=lines,
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )


def results(proc: subprocess.CompletedProcess[bytes]) -> list[Record]:
    """The records put wrote."""
    return [from_json(line) for line in proc.stdout.splitlines()]


@pytest.fixture(name="files")
def fixture_files(tmp_path: Path) -> dict[str, Path]:
    """A few files of different kinds."""
    made = {
        "page": tmp_path / "index.html",
        "png": tmp_path / "image",
        "text": tmp_path / "notes.txt",
    }
    made["page"].write_bytes(b"<p>hello</p>" * 50)
    made["png"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64)
    made["text"].write_bytes(b"plain text " * 30)
    return made


def lines_for(*paths: Path) -> bytes:
    """Walk-style records for these files, keyed by name."""
    return b"".join(to_json(Record(path=str(p), key=p.name)) for p in paths)


class TestConnectionOptions:
    def test_host_with_insecure_means_plain_http(
        self,
        s3_env: dict[str, str],
        s3_server: LocalS3,
        s3: Any,
        bucket: str,
        files: dict[str, Path],
    ) -> None:
        """The original's `--host H --insecure` talks HTTP to H."""
        env = {k: v for k, v in s3_env.items() if k != "AWS_ENDPOINT_URL"}
        proc = put(
            env,
            lines_for(files["text"]),
            "--bucket",
            bucket,
            "--host",
            f"127.0.0.1:{s3_server.s3_port}",
            "--insecure",
            "--bucket_region",
            "us-east-1",
        )
        assert proc.returncode == 0, proc.stderr
        assert (
            s3.get_object(Bucket=bucket, Key="notes.txt")["Body"].read()
            == files["text"].read_bytes()
        )

    @pytest.mark.parametrize("spelling", ["--region", "--bucket-region", "--bucket_region"])
    def test_region_spellings(
        self, s3_env: dict[str, str], bucket: str, files: dict[str, Path], spelling: str
    ) -> None:
        """--region, --bucket-region and the original's --bucket_region all work."""
        proc = put(s3_env, lines_for(files["text"]), "--bucket", bucket, spelling, "us-east-1")
        assert proc.returncode == 0, proc.stderr

    def test_profile_reads_named_credentials(
        self,
        s3_env: dict[str, str],
        s3_server: LocalS3,
        bucket: str,
        files: dict[str, Path],
        tmp_path: Path,
    ) -> None:
        """--profile takes keys from that profile of the shared credentials file."""
        credentials = tmp_path / "credentials"
        credentials.write_text(
            "[uploader]\n"
            f"aws_access_key_id = {s3_server.access_key}\n"
            f"aws_secret_access_key = {s3_server.secret_key}\n"
        )
        env = {
            k: v
            for k, v in s3_env.items()
            if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")
        }
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
        assert put(env, lines_for(files["text"]), "--bucket", bucket).returncode == 2
        proc = put(env, lines_for(files["text"]), "--bucket", bucket, "--profile", "uploader")
        assert proc.returncode == 0, proc.stderr


class TestObjectOptions:
    def test_gzip_and_gzip_type(
        self, s3_env: dict[str, str], s3: Any, bucket: str, files: dict[str, Path]
    ) -> None:
        """--gzip compresses the default types; --gzip-type text/plain compresses only that."""
        proc = put(s3_env, lines_for(files["page"], files["text"]), "--bucket", bucket, "--gzip")
        by_key = {r.key: r for r in results(proc)}
        assert by_key["index.html"].content_encoding == "gzip"
        assert by_key["notes.txt"].content_encoding is None
        proc = put(
            s3_env,
            lines_for(files["page"], files["text"]),
            "--bucket",
            bucket,
            "--put",
            "stupid",
            "--gzip",
            "--gzip-type",
            "text/plain",
        )
        by_key = {r.key: r for r in results(proc)}
        assert by_key["index.html"].content_encoding is None
        assert by_key["notes.txt"].content_encoding == "gzip"
        stored = s3.get_object(Bucket=bucket, Key="notes.txt")["Body"].read()
        assert gzip.decompress(stored) == files["text"].read_bytes()

    def test_content_type_magic_and_literal(
        self, s3_env: dict[str, str], s3: Any, bucket: str, files: dict[str, Path]
    ) -> None:
        """--content-type magic sniffs a PNG with no extension; a literal type is used as is."""
        put(s3_env, lines_for(files["png"]), "--bucket", bucket, "--content-type", "magic")
        assert s3.head_object(Bucket=bucket, Key="image")["ContentType"] == "image/png"
        put(s3_env, lines_for(files["text"]), "--bucket", bucket, "--content-type", "app/x")
        assert s3.head_object(Bucket=bucket, Key="notes.txt")["ContentType"] == "app/x"

    def test_header_metadata_storage_class(
        self, s3_env: dict[str, str], s3: Any, bucket: str, files: dict[str, Path]
    ) -> None:
        """--header, --metadata and --storage-class are stored with the object."""
        proc = put(
            s3_env,
            lines_for(files["text"]),
            "--bucket",
            bucket,
            "--header",
            "Cache-Control: max-age=300",
            "--header",
            "x-amz-meta-origin: laptop",
            "--metadata",
            "team=data",
            "--storage-class",
            "STANDARD_IA",
        )
        assert proc.returncode == 0, proc.stderr
        head = s3.head_object(Bucket=bucket, Key="notes.txt")
        assert head["CacheControl"] == "max-age=300"
        assert head["Metadata"]["origin"] == "laptop"
        assert head["Metadata"]["team"] == "data"
        assert head["StorageClass"] == "STANDARD_IA"

    def test_multipart_flags(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """--multipart-threshold and --part-size decide how a file is split."""
        big = tmp_path / "big"
        big.write_bytes(os.urandom(11 * MiB))
        proc = put(
            s3_env,
            lines_for(big),
            "--bucket",
            bucket,
            "--multipart-threshold",
            "5MiB",
            "--part-size",
            "5M",
        )
        [record] = results(proc)
        assert (record.etag or "").endswith("-3"), proc.stderr
        assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == big.read_bytes()

    def test_copy_with_source_bucket_flag(
        self, s3_env: dict[str, str], s3: Any, bucket: str
    ) -> None:
        """--put copy --source-bucket copies keys named by records, server-side."""
        source = bucket + "-from"
        s3.create_bucket(Bucket=source)
        s3.put_object(Bucket=source, Key="k1", Body=b"one")
        proc = put(
            s3_env,
            b'{"key":"k1"}\n',
            "--bucket",
            bucket,
            "--put",
            "copy",
            "--source-bucket",
            source,
        )
        assert proc.returncode == 0, proc.stderr
        assert s3.get_object(Bucket=bucket, Key="k1")["Body"].read() == b"one"

    def test_dry_run_sends_no_writes(
        self, s3_env: dict[str, str], s3: Any, bucket: str, files: dict[str, Path]
    ) -> None:
        """--dry-run reports planned records and the bucket stays empty."""
        proc = put(s3_env, lines_for(*files.values()), "--bucket", bucket, "--dry-run")
        assert [r.status for r in results(proc)] == ["planned"] * 3
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


class TestLoggingOptions:
    def test_json_logs_on_stderr_and_log_file(
        self, s3_env: dict[str, str], bucket: str, files: dict[str, Path], tmp_path: Path
    ) -> None:
        """-v --log-format json writes JSON log lines to stderr; --log-file moves them to a file."""
        proc = put(
            s3_env, lines_for(files["text"]), "--bucket", bucket, "-v", "--log-format", "json"
        )
        events = [json.loads(line) for line in proc.stderr.splitlines()]
        assert any(e["event"] == "uploaded" and e["key"] == "notes.txt" for e in events)
        log_file = tmp_path / "put.log"
        proc = put(
            s3_env, lines_for(files["text"]), "--bucket", bucket, "-v", "--log-file", str(log_file)
        )
        assert proc.stderr == b""
        assert b"skipped" in log_file.read_bytes()

    def test_quiet_hides_warnings(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """-q hides per-record warnings; the failed record still tells the story."""
        line = to_json(Record(path=str(tmp_path / "missing"), key="missing"))
        loud = put(s3_env, line, "--bucket", bucket)
        quiet = put(s3_env, line, "--bucket", bucket, "-q")
        assert b"missing" in loud.stderr
        assert quiet.stderr == b""
        assert results(quiet)[0].status == "failed"

    @pytest.mark.parametrize("log_format", ["console", "logfmt"])
    def test_control_characters_in_logs_are_escaped(
        self, log_format: str, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """A key named with an escape sequence is logged escaped, never as the raw sequence."""
        line = to_json(Record(path=str(tmp_path / "gone\x1b[2J"), key="esc\x1b[31mred"))
        proc = put(s3_env, line, "--bucket", bucket, "--log-format", log_format)
        assert results(proc)[0].status == "failed"
        assert b"\x1b" not in proc.stderr, proc.stderr
        assert b"esc\\x1b[31mred" in proc.stderr, proc.stderr
        assert b"gone\\x1b[2J" in proc.stderr, proc.stderr

    def test_control_characters_never_reach_a_terminal_raw(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """On a terminal (colored console logs) the key still shows escaped."""
        records = tmp_path / "records.ndjson"
        records.write_bytes(to_json(Record(path=str(tmp_path / "gone"), key="esc\x1b[31mred")))
        master, slave = pty.openpty()
        try:
            with subprocess.Popen(
                ["s3pput-put", "--bucket", bucket, str(records)],
                env=s3_env,
                stdout=subprocess.DEVNULL,
                stderr=slave,
            ) as proc:
                os.close(slave)
                shown = read_pty(master)
                proc.wait(timeout=120)
        finally:
            os.close(master)
        assert proc.returncode == 1
        assert b"esc\\x1b[31mred" in shown, shown
        assert b"\x1b[31mred" not in shown, shown


class TestCompare:
    @pytest.mark.parametrize("compare", ["size", "size-mtime", "checksum"])
    def test_second_run_sends_nothing(
        self, compare: str, s3_env: dict[str, str], bucket: str, files: dict[str, Path]
    ) -> None:
        """Whatever the comparison, an unchanged tree is skipped whole the second time."""
        lines = lines_for(*files.values())
        args = ("--bucket", bucket, "--compare", compare)
        assert put(s3_env, lines, *args).returncode == 0
        again = results(put(s3_env, lines, *args))
        assert {(r.status, r.reason) for r in again} == {("skipped", "unchanged")}

    def test_size_mtime_uploads_a_file_newer_than_its_object(
        self, s3_env: dict[str, str], bucket: str, files: dict[str, Path]
    ) -> None:
        """size-mtime: a file touched after the upload goes up; an older one does not."""
        lines = lines_for(*files.values())
        args = ("--bucket", bucket, "--compare", "size-mtime")
        assert put(s3_env, lines, *args).returncode == 0
        day = 86_400
        os.utime(
            files["page"], (files["page"].stat().st_atime, files["page"].stat().st_mtime + day)
        )
        os.utime(
            files["text"], (files["text"].stat().st_atime, files["text"].stat().st_mtime - day)
        )
        by_key = {r.key: r.status for r in results(put(s3_env, lines, *args))}
        assert by_key == {"index.html": "uploaded", "image": "skipped", "notes.txt": "skipped"}

    def test_size_misses_a_same_size_edit_that_checksum_catches(
        self, s3_env: dict[str, str], s3: Any, bucket: str, files: dict[str, Path]
    ) -> None:
        """The documented trade-off: size alone cannot see a same-size edit; the default can."""
        lines = lines_for(files["text"])
        assert put(s3_env, lines, "--bucket", bucket).returncode == 0
        files["text"].write_bytes(b"PLAIN TEXT " * 30)
        by_size = results(put(s3_env, lines, "--bucket", bucket, "--compare", "size"))
        assert [(r.status, r.reason) for r in by_size] == [("skipped", "unchanged")]
        by_checksum = results(put(s3_env, lines, "--bucket", bucket))
        assert [r.status for r in by_checksum] == ["uploaded"]
        stored = s3.get_object(Bucket=bucket, Key="notes.txt")["Body"].read()
        assert stored == b"PLAIN TEXT " * 30


class TestAbortIncomplete:
    def test_aborts_only_under_the_prefix_and_dry_run_only_lists(
        self, s3_env: dict[str, str], s3: Any, bucket: str
    ) -> None:
        """--abort-incomplete P: --dry-run counts, then the uploads under P go, others stay."""
        for key in ("run/a.bin", "run/sub/b.bin", "elsewhere/c.bin"):
            s3.create_multipart_upload(Bucket=bucket, Key=key)

        def unfinished() -> set[str]:
            return {u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}

        args = ("--bucket", bucket, "--abort-incomplete", "run/")
        listed = put(s3_env, b"", *args, "--dry-run")
        assert listed.returncode == 0
        assert listed.stdout.startswith(b"would abort 2 incomplete uploads")
        assert len(unfinished()) == 3
        aborted = put(s3_env, b"", *args)
        assert aborted.returncode == 0
        assert aborted.stdout.startswith(b"aborted 2 incomplete uploads")
        assert unfinished() == {"elsewhere/c.bin"}


class TestControlKeyFlags:
    @pytest.mark.parametrize(
        ("flags", "allowed"),
        [([], True), (["--allow-control-keys"], True), (["--refuse-control-keys"], False)],
        ids=["default", "allow", "refuse"],
    )
    @pytest.mark.parametrize("command", ["s3pput-put", "s3pput"])
    def test_both_commands_send_control_keys_unless_refused(
        self, command: str, flags: list[str], *, allowed: bool
    ) -> None:
        """s3pput-put and the one-command s3pput take the same flags, with the same default."""
        if command == "s3pput":
            parser, argv = one_command.build_parser(), ["src", "--bucket", "b", *flags]
        else:
            parser, argv = put_command.build_parser(), ["--bucket", "b", *flags]
        options = put_command.options_from_args(parser.parse_args(argv), parser)
        assert options.put.allow_control_keys is allowed

    @pytest.mark.parametrize("command", ["s3pput-put", "s3pput"])
    def test_help_says_control_keys_are_sent_by_default(self, command: str) -> None:
        """--help names both flags and says which is the default."""
        text = subprocess.run(
            [command, "--help"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        assert "--refuse-control-keys" in text
        assert "--allow-control-keys" in " ".join(text.split())
        assert "(the default;" in " ".join(text.split())
