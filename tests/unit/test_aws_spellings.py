"""aws s3 cp's flag names become the same parameters and headers as put's own (no server)."""

from __future__ import annotations

import pytest

from s3pput.cli.put import build_parser, options_from_args


def put_options(*flags: str) -> tuple[dict[str, object], tuple[tuple[str, str], ...]]:
    """The parameters and raw headers put would send for ``flags``."""
    parser = build_parser()
    options = options_from_args(parser.parse_args(["--bucket", "b", *flags]), parser)
    return dict(options.put.parameters), tuple(options.put.raw_headers)


def test_each_spelling_is_the_header_it_names() -> None:
    """--cache-control and friends are parameters, as the same --header would be."""
    parameters, raw = put_options(
        "--cache-control", "no-cache", "--content-disposition", "inline",
        "--content-encoding", "br", "--content-language", "de", "--expires", "0",
        "--acl", "public-read", "--sse", "aws:kms", "--sse-kms-key-id", "k1",
        "--tags", "a=1&b=",
    )  # fmt: skip
    assert parameters == {
        "CacheControl": "no-cache",
        "ContentDisposition": "inline",
        "ContentEncoding": "br",
        "ContentLanguage": "de",
        "Expires": "0",
        "ACL": "public-read",
        "ServerSideEncryption": "aws:kms",
        "Tagging": "a=1&b=",
    }
    assert raw == (("x-amz-server-side-encryption-aws-kms-key-id", "k1"),)
    assert put_options("--cache-control", "x") == put_options("--header", "Cache-Control: x")


@pytest.mark.parametrize(
    "flags",
    [
        ["--acl", "everyone"],
        ["--sse", "des"],
        ["--tags", "=v"],
        ["--tags", "novalue"],
        ["--cache-control", "a\r\nx-amz-acl: public-read"],
    ],
)
def test_bad_values_are_usage_errors(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown ACL or SSE mode, a tag without a key, a line break: exit 2, nothing sent."""
    with pytest.raises(SystemExit) as stopped:
        put_options(*flags)
    assert stopped.value.code == 2
    assert "error" in capsys.readouterr().err
