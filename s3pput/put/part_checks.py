"""Whether a part on the server holds the local bytes: one just sent, or one to resume with.

What a store says of a part is held against the bytes themselves: its
echoed checksum, else its ETag as their MD5, since a store that checks no
checksum header stores a damaged body and answers 200. A part found on the
server when an upload is resumed is kept only if it holds the bytes now at
its place in the file. Pure functions of the part, the answer and the local
bytes: the requests and what to do about a bad part are parts.py's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Final

from s3pput.errors import S3RequestError
from s3pput.put.part_plan import Part
from s3pput.put.part_source import HashedBody, PartSource
from s3pput.transport.checksums import part_checksum
from s3pput.transport.put_response import PutResponse

__all__ = ["stored_part_problem", "verified_part"]

_MD5_HEX: Final = re.compile(r"[0-9a-fA-F]{32}")


def stored_part_problem(
    source: PartSource,
    number: int,
    body: HashedBody | None,
    response: PutResponse,
    algorithm: str,
) -> BaseException | None:
    """Why a part the store accepted must not be kept, if it must not; on the CRT's thread.

    The file must still be the version being sent, and what the store
    says it stored must be what was sent: its checksum when it echoes
    one, else its ETag as the MD5 of the part. A store that checks the
    checksum header refuses a damaged body itself; one that does not
    would keep it and answer 200.
    """
    try:
        source.check_unchanged()
    except OSError as exc:
        return exc
    digests = body.digests() if body is not None else None
    if digests is None:
        return S3RequestError(f"UploadPart {number}: the part's body was not read whole")
    md5, checksum = digests
    if response.checksum is not None:
        if response.checksum == checksum:
            return None
        told = f"its {algorithm} {response.checksum} is not {checksum}"
    elif not _MD5_HEX.fullmatch(response.etag):
        return None  # not an MD5 (encrypted?): nothing to compare with
    elif response.etag.lower() == md5:
        return None
    else:
        told = f"its ETag {response.etag} is not the MD5 {md5}"
    return S3RequestError(
        f"UploadPart {number}: the store did not keep the bytes sent ({told})", "BadDigest"
    )


def verified_part(
    source: PartSource, where: tuple[int, int], part: Part, algorithm: str
) -> Part | None:
    """A part on the server as the completion should list it; None if it lacks the local bytes.

    Its listed checksum decides, else (stores that list none) its ETag as
    an MD5; one read of the local bytes gives both, and the local
    checksum then goes into the completion.
    """
    offset, length = where
    md5 = hashlib.md5(usedforsecurity=False)

    def chunks() -> Iterator[bytes]:
        for chunk in source.chunks(offset, length):
            md5.update(chunk)
            yield chunk

    local = part_checksum(algorithm, chunks())
    same = local == part.checksum if part.checksum else part.etag.lower() == md5.hexdigest()
    return Part(part.number, part.etag, local, part.size) if same else None
