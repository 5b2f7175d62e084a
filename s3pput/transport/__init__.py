"""Requests to S3: the native client, boto3 clients, listing pages, retries.

The only package that imports boto3, botocore or awscrt. It sends what it is
asked and says what came back; whether to skip, retry a record or give up on
a run is decided by the stages.
"""
