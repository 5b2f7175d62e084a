"""The put stage: one file record in, one result record out, whatever happens.

The uploader decides (skip, plain, gzip, tar member, copy, parts) and the
driver runs many records at once; requests go through the transport package.
"""
