"""Run a command and write its wall time and rusage as JSON: ``bench_exec.py OUT -- ARGV...``.

Why not wait4 from the benchmark itself: Linux carries a process's peak RSS
across fork and exec (``signal->maxrss`` takes the old address space's
high-water mark at exec), so anything started straight from the benchmark,
with boto3 loaded, reports at least the benchmark's ~65 MiB. Started from this
small interpreter (``python -I -S``, about 8 MiB) the floor is that instead.
The rusage from ``os.wait4`` covers the command and every process it waited
for, so for ``bash -c 'a | b | c'`` it is the whole pipeline.
"""

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    """Fork, exec the command, wait for it, and record what it cost; exit with its status."""
    out, argv = argv[1], argv[3:]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child becomes the command
        try:
            os.execvp(argv[0], argv)  # noqa: S606  # the argv to measure, no shell on purpose
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    record = {
        "exit_code": code,
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(record, f)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
