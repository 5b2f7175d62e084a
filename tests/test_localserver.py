"""s3pput-local-s3, the throwaway server for demos: a bad request is a one-line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOCAL_S3 = str(Path(sys.executable).parent / "s3pput-local-s3")


def test_an_invalid_bucket_name_is_a_usage_error_not_a_traceback() -> None:
    """The server starts, refuses the name, and the command stops it and exits 2."""
    done = subprocess.run(
        [LOCAL_S3, "--bucket", "b"], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert b"cannot create bucket 'b': InvalidBucketName" in done.stderr
    assert b"Traceback" not in done.stderr
