"""Reading a ListObjectsV2 page as each store writes it (answers captured from the stores)."""

from __future__ import annotations

import pytest

from s3pput.errors import ListingUnreadableError
from s3pput.transport.list_page import ListPage, parse_list_page
from s3pput.transport.listed import Listed

ETAG = "49f68a5c8493ec2c0bf489821c21fc3b"

SEAWEEDFS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>probe</Name>'
    "<Prefix></Prefix><MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>"
    "<Contents><Key>100%25.txt</Key><ETag>&#34;49f68a5c8493ec2c0bf489821c21fc3b&#34;</ETag>"
    "<Size>2</Size><StorageClass>STANDARD</StorageClass>"
    "<LastModified>2026-12-02T21:14:46Z</LastModified></Contents>"
    "<Contents><Key>a+b.txt</Key><ETag>&#34;49f68a5c8493ec2c0bf489821c21fc3b&#34;</ETag>"
    "<Size>2</Size><StorageClass>STANDARD</StorageClass>"
    "<LastModified>2026-12-02T21:14:46Z</LastModified></Contents>"
    "<Contents><Key>a%2Bb.txt</Key><ETag>&#34;49f68a5c8493ec2c0bf489821c21fc3b&#34;</ETag>"
    "<Size>2</Size><StorageClass>STANDARD</StorageClass>"
    "<LastModified>2026-12-02T21:14:46Z</LastModified></Contents>"
    "<NextContinuationToken>a+b.txt</NextContinuationToken><EncodingType>url</EncodingType>"
    "<KeyCount>3</KeyCount></ListBucketResult>"
)
"""SeaweedFS: encodes a space as "+", and "+" as %2B."""

MOTO = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<IsTruncated>false</IsTruncated>"
    "<Contents><Key>ctl%01.txt</Key><LastModified>2026-12-02T21:13:20.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag>"
    "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents><Name>probe</Name><Prefix/>"
    "<Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys>"
    "<CommonPrefixes><Prefix>d%20e/</Prefix></CommonPrefixes>"
    "<CommonPrefixes><Prefix>o/</Prefix></CommonPrefixes><EncodingType>url</EncodingType>"
    "<KeyCount>3</KeyCount><StartAfter>a+b.txt</StartAfter></ListBucketResult>"
)
"""moto's server: encodes a space as %20 and echoes StartAfter unencoded."""

S3RVER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/"><Name>probe</Name>'
    "<Prefix></Prefix><NextContinuationToken>12Y2Eee8DKG2gLFFEjh+Z9CG97y/VNqaO/8tHao1JWo="
    "</NextContinuationToken><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>100%.txt</Key><LastModified>2026-12-02T21:13:34.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>a b.txt</Key><LastModified>2026-12-02T21:13:34.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>a+b.txt</Key><LastModified>2026-12-02T21:13:34.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
)
"""s3rver: another namespace, no EncodingType (it ignores encoding-type=url), keys raw."""

S3RVER_CONTROLS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/"><Name>probe</Name>'
    "<Prefix></Prefix><StartAfter>a+b.txt</StartAfter><KeyCount>2</KeyCount>"
    "<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>"
    "<Contents><Key>ctl\x01.txt</Key><LastModified>2026-12-02T21:13:34.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>cr\r.txt</Key><LastModified>2026-12-02T21:13:34.000Z</LastModified>"
    "<ETag>&quot;49f68a5c8493ec2c0bf489821c21fc3b&quot;</ETag><Size>2</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>"
)
"""s3rver with control characters in keys: raw in the XML, which XML 1.0 forbids."""


def keys(body: str) -> list[str]:
    """The keys one answer lists."""
    return [listed.key for listed in parse_list_page(body.encode()).objects]


class TestStoresPages:
    """Each store's own answer reads as the keys it holds."""

    def test_seaweedfs_keys_are_decoded_plus_as_space(self) -> None:
        """SeaweedFS says EncodingType url and writes a space as "+": decoded like botocore."""
        page = parse_list_page(SEAWEEDFS.encode())
        assert [o.key for o in page.objects] == ["100%.txt", "a b.txt", "a+b.txt"]
        assert page.objects[0] == Listed("100%.txt", ETAG, 2, "2026-12-02T21:14:46Z")
        assert page.truncated
        assert page.token == "a+b.txt"  # noqa: S105  # a continuation token, not a password

    def test_moto_keys_and_prefixes_are_decoded(self) -> None:
        """The moto server encodes keys and prefixes; both come back decoded."""
        page = parse_list_page(MOTO.encode())
        assert [o.key for o in page.objects] == ["ctl\x01.txt"]
        assert page.prefixes == ["d e/", "o/"]
        assert not page.truncated
        assert page.token is None

    def test_s3rver_namespace_and_raw_keys(self) -> None:
        """s3rver's namespace is not S3's and its keys are raw: none is lost or decoded."""
        page = parse_list_page(S3RVER.encode())
        assert [o.key for o in page.objects] == ["100%.txt", "a b.txt", "a+b.txt"]
        assert {o.etag for o in page.objects} == {ETAG}
        assert page.truncated
        assert page.token == "12Y2Eee8DKG2gLFFEjh+Z9CG97y/VNqaO/8tHao1JWo="  # noqa: S105  # a continuation token

    def test_s3rver_raw_control_characters_survive(self) -> None:
        """A raw control character (forbidden in XML 1.0) and a raw CR come back exactly."""
        page = parse_list_page(S3RVER_CONTROLS.encode())
        assert [o.key for o in page.objects] == ["ctl\x01.txt", "cr\r.txt"]
        assert page.prefixes == ["d/"]

    def test_no_encoding_type_no_decoding(self) -> None:
        """Without <EncodingType>url</EncodingType>, "%41" and "+" are the key's own characters."""
        body = S3RVER.replace("100%.txt", "%41+%2B.txt")
        assert keys(body)[0] == "%41+%2B.txt"

    def test_empty_page(self) -> None:
        """An empty listing is an empty page."""
        body = (
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>"
        )
        assert parse_list_page(body.encode()) == parse_list_page(b"<ListBucketResult/>")
        assert keys(body) == []


class TestPageEnds:
    """Where a page says the next resumes: every point a store may resume past."""

    def test_the_last_object_listed_and_the_greatest(self) -> None:
        """s3rver resumes past its last object (a-b, walked after a/2), S3 past the greatest."""
        page = ListPage(
            [Listed("p/a/1", "e", 1), Listed("p/a/2", "e", 1), Listed("p/a-b", "e", 1)],
            ["p/c/", "p/b/"],
            truncated=True,
            token="t",  # noqa: S106  # a continuation token, not a password
        )
        assert page.ends() == ["p/a-b", "p/a/2", "p/c/"]

    def test_none_after_the_last_page(self) -> None:
        """Nothing resumes after a page that says it is the last."""
        assert ListPage([Listed("p/a", "e", 1)], ["p/b/"]).ends() == []

    def test_each_once(self) -> None:
        """In S3's order the last object is the greatest: named once."""
        page = parse_list_page(SEAWEEDFS.encode())
        assert page.ends() == ["a+b.txt"]


class TestUnreadablePages:
    """An answer that cannot be read as a listing is an error, never an empty directory."""

    def test_keys_claimed_none_read(self) -> None:
        """KeyCount says 3 but no element reads as an object: fail, do not say "empty"."""
        body = S3RVER.replace("<Contents>", "<Content>").replace("</Contents>", "</Content>")
        with pytest.raises(ListingUnreadableError, match="holds 3 keys but none could be read"):
            parse_list_page(body.encode())

    def test_object_without_key(self) -> None:
        """A Contents element without a Key is not read as the key ""."""
        body = S3RVER.replace("<Key>a b.txt</Key>", "")
        with pytest.raises(ListingUnreadableError, match="without a key"):
            parse_list_page(body.encode())

    def test_truncated_without_token(self) -> None:
        """A page that says there is more but not how to ask would end the listing early."""
        body = S3RVER.replace(
            "<NextContinuationToken>12Y2Eee8DKG2gLFFEjh+Z9CG97y/VNqaO/8tHao1JWo="
            "</NextContinuationToken>",
            "",
        )
        with pytest.raises(ListingUnreadableError, match="no NextContinuationToken"):
            parse_list_page(body.encode())

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            ("<ListBucketResult><Contents>", "unreadable answer"),
            ("", "unreadable answer"),
            ("<Error><Code>InternalError</Code></Error>", "answer is <Error>"),
            (S3RVER.replace("<Size>2</Size>", "<Size>two</Size>", 1), "object size 'two'"),
        ],
    )
    def test_not_a_listing(self, body: str, reason: str) -> None:
        """Broken XML, another document, or a size that is not a number: an error that says so."""
        with pytest.raises(ListingUnreadableError, match=reason):
            parse_list_page(body.encode())

    def test_stand_ins_already_present(self) -> None:
        """A stand-in character beside a raw control character: refused, not garbled."""
        body = S3RVER_CONTROLS.replace("cr\r.txt", "pua\U000f0001.txt")
        with pytest.raises(ListingUnreadableError, match="unreadable answer"):
            parse_list_page(body.encode())
