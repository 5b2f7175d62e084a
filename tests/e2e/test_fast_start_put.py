"""A real put with static keys never loads botocore or boto3 (issue #15, a fast start).

The keys come from the environment or from a profile in a credentials file,
the endpoint from a flag or the profile: aws_config reads them, the native
client signs and sends. The object must land (the keys really were the
server's), and Python's own import log must show neither library.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Final

BIN: Final = Path(sys.executable).parent
BOTO: Final = frozenset({"boto3", "botocore", "s3transfer"})


def put_one(env: dict[str, str], args: list[str], path: Path) -> tuple[set[str], str, str]:
    """Run s3pput-put on one record with the import log on: (packages loaded, stdout, stderr)."""
    done = subprocess.run(
        [str(BIN / "s3pput-put"), *args],
        input=f'{{"path": "{path}", "key": "fast/one.txt"}}\n'.encode(),
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    lines = done.stderr.decode(errors="replace").splitlines()
    loaded = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in lines
        if line.startswith("import time:") and "|" in line
    }
    others = "\n".join(line for line in lines if not line.startswith("import time:"))
    return loaded, done.stdout.decode(), others


class TestPutWithStaticKeys:
    """The common case sends through the native client alone."""

    def test_environment_keys_and_an_endpoint_flag_load_no_botocore(
        self, s3_env: dict[str, str], bucket: str, s3: Any, tmp_path: Path
    ) -> None:
        """Keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, --endpoint-url: no botocore."""
        path = tmp_path / "one.txt"
        path.write_text("fast\n")
        env = {k: v for k, v in s3_env.items() if k != "AWS_ENDPOINT_URL"}
        loaded, out, err = put_one(
            env, ["--bucket", bucket, "--endpoint-url", s3_env["AWS_ENDPOINT_URL"]], path
        )
        assert '"status":"uploaded"' in out, err
        assert s3.get_object(Bucket=bucket, Key="fast/one.txt")["Body"].read() == b"fast\n"
        assert loaded & BOTO == set()

    def test_a_profile_in_the_credentials_file_loads_no_botocore(
        self, s3_env: dict[str, str], bucket: str, s3: Any, tmp_path: Path
    ) -> None:
        """Keys from [profile] in a credentials file, endpoint from the config file."""
        path = tmp_path / "one.txt"
        path.write_text("profiled\n")
        credentials = tmp_path / "credentials"
        credentials.write_text(
            f"[store]\naws_access_key_id = {s3_env['AWS_ACCESS_KEY_ID']}\n"
            f"aws_secret_access_key = {s3_env['AWS_SECRET_ACCESS_KEY']}\n"
        )
        config = tmp_path / "config"
        config.write_text(
            f"[profile store]\nregion = us-east-1\nendpoint_url = {s3_env['AWS_ENDPOINT_URL']}\n"
        )
        env = {k: v for k, v in s3_env.items() if not k.startswith("AWS_")}
        env |= {
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_CONFIG_FILE": str(config),
            "AWS_PROFILE": "store",
        }
        loaded, out, err = put_one(env, ["--bucket", bucket], path)
        assert '"status":"uploaded"' in out, err
        assert s3.get_object(Bucket=bucket, Key="fast/one.txt")["Body"].read() == b"profiled\n"
        assert loaded & BOTO == set()
