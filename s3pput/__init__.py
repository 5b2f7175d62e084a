"""s3pput: fast, Unix-style parallel uploads to S3 as composable NDJSON stages."""

from __future__ import annotations

from s3pput.errors import RecordError
from s3pput.records import SCHEMA_VERSION, Record, from_json, to_json

__all__ = ["SCHEMA_VERSION", "Record", "RecordError", "__version__", "from_json", "to_json"]

__version__ = "0.1.0"
