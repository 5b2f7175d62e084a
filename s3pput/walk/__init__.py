"""The walk stage: sources (local trees, tar archives, S3 prefixes) into file records.

It reads directories and archives and writes records; it never talks to the
bucket it uploads to, and knows nothing of put's decisions.
"""
