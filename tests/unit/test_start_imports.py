"""The commands start without loading what they do not need (issue #15, a fast start).

botocore's session, boto3, the CRT and libmagic cost about 0.3 s to import:
more than the upload of a small file. So ``--help``, a usage error, walk and
stat load none of them, and a put whose keys come from the environment or a
profile, sent by the native client, never loads botocore or boto3. Every
test runs the real command (its console script) with Python's own import
log (PYTHONPROFILEIMPORTTIME) and reads which modules were loaded, at start
and while running: no timing is asserted, only what was imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

BIN: Final = Path(sys.executable).parent

HEAVY: Final = frozenset({"boto3", "botocore", "awscrt", "_awscrt", "magic", "s3transfer"})
"""The libraries only a request (or libmagic's sniffing) needs."""
BOTO: Final = frozenset({"boto3", "botocore", "s3transfer"})
"""What a put sent by the native client alone never needs."""

RECORD: Final = '{"path": "%s", "key": "k"}\n'
HINT: Final = (
    "loaded at start; if botocore: does a module import REQUEST_ERRORS (a tuple of botocore's "
    "classes, so it imports botocore)? Catch request_errors() instead"
)


def loaded(command: list[str], env: dict[str, str], stdin: str = "") -> tuple[set[str], str]:
    """Run a command with Python's import log on; the top-level packages it loaded, and stderr."""
    done = subprocess.run(
        command,
        input=stdin.encode(),
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    stderr = done.stderr.decode(errors="replace")
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    modules.discard("package")  # the log's header line
    others = "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))
    return modules, others


@pytest.fixture(name="clean_env")
def fixture_clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment with static keys and no AWS files: the common case of a put."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO"))}
    env.update(
        {
            "HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "AWS_ACCESS_KEY_ID": "AKFASTSTART",
            "AWS_SECRET_ACCESS_KEY": "not-a-real-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@pytest.fixture(name="one_file")
def fixture_one_file(tmp_path: Path) -> Path:
    """A directory holding one small file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f.txt").write_text("hello\n")
    return tree


class TestNothingHeavyAtStart:
    """Importing a command, its help and its usage errors load no AWS library."""

    @pytest.mark.parametrize(
        "module", ["s3pput.cli.put", "s3pput.cli.walk", "s3pput.cli.stat", "s3pput.cli.main"]
    )
    def test_importing_a_command_loads_no_aws_library(
        self, module: str, clean_env: dict[str, str]
    ) -> None:
        """The entry points import only s3pput and the standard library (and structlog later)."""
        found, _ = loaded([sys.executable, "-c", f"import {module}"], clean_env)
        assert found & HEAVY == set(), HINT

    @pytest.mark.parametrize("command", ["s3pput-put", "s3pput-walk", "s3pput-stat", "s3pput"])
    def test_help_loads_no_aws_library(self, command: str, clean_env: dict[str, str]) -> None:
        """``--help`` is read by people waiting for it."""
        found, _ = loaded([str(BIN / command), "--help"], clean_env)
        assert found & HEAVY == set(), HINT

    def test_a_usage_error_loads_no_aws_library(self, clean_env: dict[str, str]) -> None:
        """A forgotten --bucket is said at once."""
        found, stderr = loaded([str(BIN / "s3pput-put")], clean_env)
        assert "--bucket" in stderr
        assert found & HEAVY == set(), HINT


class TestWalkAndStat:
    """walk and stat never send a request for local files, so they never load a client."""

    def test_walking_a_directory_loads_no_aws_library(
        self, one_file: Path, clean_env: dict[str, str]
    ) -> None:
        """The first stage of every pipeline starts on the standard library alone."""
        found, _ = loaded([str(BIN / "s3pput-walk"), str(one_file)], clean_env)
        assert found & HEAVY == set(), HINT

    def test_a_local_walk_loads_no_archive_or_hash_library(
        self, one_file: Path, clean_env: dict[str, str]
    ) -> None:
        """Archives are for --walk tar, hashlib (OpenSSL) for --shard: a plain walk needs none."""
        found, _ = loaded([str(BIN / "s3pput-walk"), str(one_file)], clean_env)
        assert found & {"tarfile", "hashlib", "_hashlib"} == set()

    def test_summing_results_loads_no_aws_library(self, clean_env: dict[str, str]) -> None:
        """The last stage reads records and writes a summary."""
        result = '{"s3pput":1,"path":"f","key":"f","status":"uploaded","bytes":6}\n'
        found, _ = loaded([str(BIN / "s3pput-stat")], clean_env, stdin=result)
        assert found & HEAVY == set(), HINT


class TestPutWithoutBotocore:
    """A put whose keys are static never loads botocore's session (or boto3)."""

    def test_a_dry_run_loads_no_botocore(self, one_file: Path, clean_env: dict[str, str]) -> None:
        """A dry run of ``--put stupid`` plans every record with the keys from the environment."""
        found, stderr = loaded(
            [
                str(BIN / "s3pput-put"),
                "--bucket",
                "b",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--dry-run",
                "--put",
                "stupid",
            ],
            clean_env,
            stdin=RECORD % (one_file / "f.txt"),
        )
        assert "Traceback" not in stderr
        assert found & BOTO == set(), HINT

    def test_a_dry_run_with_a_profile_loads_no_botocore(
        self, one_file: Path, clean_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Keys, region and endpoint from ~/.aws: still no botocore."""
        aws = tmp_path / ".aws"
        aws.mkdir()
        (aws / "credentials").write_text(
            "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = dev-secret\n"
        )
        (aws / "config").write_text(
            "[profile dev]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9\n"
            "s3 =\n  addressing_style = path\n"
        )
        env = {
            k: v
            for k, v in clean_env.items()
            if not k.startswith("AWS_ACCESS") and "SECRET" not in k
        }
        found, stderr = loaded(
            [
                str(BIN / "s3pput-put"),
                "--bucket",
                "b",
                "--profile",
                "dev",
                "--dry-run",
                "--put",
                "stupid",
            ],
            env,
            stdin=RECORD % (one_file / "f.txt"),
        )
        assert "Traceback" not in stderr
        assert found & BOTO == set(), HINT

    def test_a_credential_process_still_asks_botocore(
        self, one_file: Path, clean_env: dict[str, str], tmp_path: Path
    ) -> None:
        """The light reader declines what it does not answer: botocore's session runs it."""
        process = tmp_path / "keys.sh"
        process.write_text(
            "#!/bin/sh\n"
            'echo \'{"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "proc"}\'\n'
        )
        process.chmod(0o755)
        aws = tmp_path / ".aws"
        aws.mkdir()
        (aws / "config").write_text(f"[profile dev]\ncredential_process = {process}\n")
        found, stderr = loaded(
            [
                str(BIN / "s3pput-put"),
                "--bucket",
                "b",
                "--profile",
                "dev",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--dry-run",
                "--put",
                "stupid",
            ],
            clean_env,
            stdin=RECORD % (one_file / "f.txt"),
        )
        assert "Traceback" not in stderr
        assert "botocore" in found
