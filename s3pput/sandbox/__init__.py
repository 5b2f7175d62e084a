"""A throwaway S3 server on loopback for the demo, the tests and the benchmarks.

No stage imports it: uploads never depend on it.
"""
