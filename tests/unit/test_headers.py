"""--header and --metadata are checked before anything is sent."""

from __future__ import annotations

import pytest

from s3pput.errors import HeaderError
from s3pput.put.headers import parse_headers, parse_metadata


class TestParseHeaders:
    def test_known_headers_become_parameters(self) -> None:
        """Cache-Control and friends become boto3 parameters, so multipart uploads get them."""
        parsed = parse_headers(
            ["Cache-Control: max-age=60", "x-amz-meta-owner: ops", "X-Custom: 1"]
        )
        assert parsed.parameters == {"CacheControl": "max-age=60"}
        assert parsed.metadata == {"owner": "ops"}
        assert parsed.raw == (("X-Custom", "1"),)

    @pytest.mark.parametrize(
        "item",
        [
            "X-Evil: a\r\nX-Injected: b",
            "X-Evil: a\nb",
            "X-Evil: a\rb",
            "X-Nul: a\x00b",
            "X-Utf8: caf\u00e9",
            "no colon here",
            ": empty name",
            "Bad Name: x",
            "Bad\r\nName: x",
            "Authorization: AWS4-HMAC-SHA256 forged",
            "Host: evil.example",
        ],
    )
    def test_smuggling_and_malformed_headers_are_refused(self, item: str) -> None:
        """CR/LF, control bytes, a missing colon or a header s3pput owns is a usage error."""
        with pytest.raises(HeaderError):
            parse_headers([item])


class TestParseMetadata:
    def test_key_value_pairs(self) -> None:
        """KEY=VALUE becomes user metadata; the value may contain '='."""
        assert parse_metadata(["team=data", "q=a=b"]) == {"team": "data", "q": "a=b"}

    @pytest.mark.parametrize("item", ["novalue", "k=a\nb", "bad key=x", "=x"])
    def test_bad_metadata_is_refused(self, item: str) -> None:
        """Metadata that S3 would reject or that could inject headers is a usage error."""
        with pytest.raises(HeaderError):
            parse_metadata([item])
