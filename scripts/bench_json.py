"""What the records between stages cost: the standard library's json against orjson and msgspec.

Every stage parses or writes a JSON line per file: put parses walk's records
and writes results, walk writes records, stat parses results. This times
those jobs for 100k records like walk's and put's, each library doing the
same work (``timeit``-style: one pass over every record, the median of 5),
in microseconds per record:

- parse: a line to a dict. The standard library as strict_json calls it
  (NaN and 1e999 refused through hooks), orjson, msgspec.
- write: a dict to a line, as records.to_json writes it (compact, not
  ASCII-escaped), for the three.
- s3pput: what the contract's functions cost as they are on this checkout
  (``records.from_json``, ``records.to_json``, walk's ``file_lines``), and
  their standard-library path alone where the checkout has one.

With ``--stages`` it also measures what a stage spends: ``s3pput-put
--dry-run --put stupid`` over 100k walk records of real files, and
``s3pput-stat`` over 200k result lines, in CPU seconds (user+sys, the median
of ``--stage-rounds``), with the commands found on PATH::

    PATH=$PWD/.venv/bin:$PATH python scripts/bench_json.py --stages

orjson is only measured: ``pip install orjson`` to see its column.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

from s3pput import records, strict_json
from s3pput.records import Record, from_json, to_json
from s3pput.walk.record_lines import file_lines

PER_DIRECTORY: Final = 1000
_MICRO: Final = 1e6


def walk_lines(count: int) -> list[bytes]:
    """Lines like walk's: a path under a source, its key, a size and an mtime with microseconds."""
    return [
        to_json(
            Record.of_file(
                f"/srv/data/photos/2024/dir{n // PER_DIRECTORY:04d}/IMG_{n:07d}.jpg",
                f"backup/photos/2024/dir{n // PER_DIRECTORY:04d}/IMG_{n:07d}.jpg",
                (n * 7919) % (8 << 20),
                1_700_000_000 + n * 0.137 + (n % 997) * 1e-6,
            )
        )
        for n in range(count)
    ]


def result_lines(walked: Sequence[bytes]) -> list[bytes]:
    """Lines like put's: each walk record uploaded, with ETag, MD5, type, timing and attempts."""
    out = []
    for n, line in enumerate(walked):
        digest = hashlib.md5(line, usedforsecurity=False).hexdigest()
        record = from_json(line).evolve(
            status="uploaded",
            bucket="backups",
            etag=digest,
            md5=digest,
            bytes=from_json(line).size,
            content_type="image/jpeg",
            attempts=1,
            seconds=0.004 + (n % 113) * 1e-4,
            ts=1_700_000_100 + n * 0.0021,
        )
        out.append(to_json(record))
    return out


def drain(results: Iterable[object]) -> None:
    """Run through ``results``, keeping none: a stage writes or counts each line and drops it.

    Keeping 100k results alive changes what is measured (orjson's output buffers then cost
    ten times more), and no stage keeps them.
    """
    collections.deque(results, maxlen=0)


def per_record(job: Callable[[], object], count: int, rounds: int) -> float:
    """Microseconds per record of ``job``, one pass over ``count`` records: median of ``rounds``."""
    times = []
    for _ in range(rounds):
        started = time.process_time()  # CPU, not wall: other processes share the machine
        job()
        times.append(time.process_time() - started)
    return statistics.median(times) / count * _MICRO


def libraries() -> dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]]:
    """Each library's parse and write of one line, as the stages would call it."""
    strict_hooks: dict[str, Any] = {
        "parse_constant": strict_json._reject_constant,  # noqa: SLF001  # the hooks strict_json uses
        "parse_float": strict_json._finite_float,  # noqa: SLF001  # same
    }
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    found: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
        "stdlib json": (
            lambda line: json.loads(line, **strict_hooks),
            lambda obj: (encoder.encode(obj) + "\n").encode("utf-8"),
        ),
    }
    try:
        orjson = importlib.import_module("orjson")
    except ImportError:
        print("orjson is not installed: pip install orjson to measure it", file=sys.stderr)
    else:
        newline = orjson.OPT_APPEND_NEWLINE
        found["orjson"] = (orjson.loads, lambda obj: orjson.dumps(obj, option=newline))
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:
        print("msgspec is not installed: pip install msgspec to measure it", file=sys.stderr)
    else:
        decoder, encode = msgspec.json.Decoder(), msgspec.json.Encoder().encode
        found["msgspec"] = (decoder.decode, lambda obj: encode(obj) + b"\n")
    return found


def library_table(walked: list[bytes], results: list[bytes], rounds: int) -> list[str]:
    """The table of parse and write costs, a column per library."""
    libs = libraries()
    walk_dicts, result_dicts = [json.loads(x) for x in walked], [json.loads(x) for x in results]
    jobs: dict[str, Callable[[Callable[[bytes], Any], Callable[[Any], bytes]], object]] = {
        "parse a walk record": lambda parse, _: drain(map(parse, walked)),
        "parse a put result": lambda parse, _: drain(map(parse, results)),
        "write a walk record": lambda _, write: drain(map(write, walk_dicts)),
        "write a put result": lambda _, write: drain(map(write, result_dicts)),
    }
    count = len(walked)
    rows = ["| µs per record | " + " | ".join(libs) + " | best vs stdlib |"]
    rows.append("|---" * (len(libs) + 2) + "|")
    for name, job in jobs.items():
        cost = [per_record(partial(job, p, w), count, rounds) for p, w in libs.values()]
        cells = " | ".join(f"{c:.2f}" for c in cost)
        rows.append(f"| {name} | {cells} | {cost[0] / min(cost[1:] or cost):.1f}x |")
    return rows


def contract_table(walked: list[bytes], results: list[bytes], rounds: int) -> list[str]:
    """What s3pput's own functions cost on this checkout, per record."""
    walk_records = [from_json(x) for x in walked]
    result_records = [from_json(x) for x in results]
    directory = "/srv/data/photos/2024/dir0000/"
    names = [(x.path.rsplit("/", 1)[1], x.size, x.mtime) for x in walk_records if x.path]
    jobs: dict[str, Callable[[], object]] = {
        "records.from_json, a walk record": lambda: drain(map(from_json, walked)),
        "records.from_json, a put result": lambda: drain(map(from_json, results)),
        "records.to_json, a put result": lambda: drain(map(to_json, result_records)),
        "records.to_json, a walk record": lambda: drain(map(to_json, walk_records)),
        "walk's file_lines, 1,000 a directory": lambda: drain(
            file_lines(directory, "backup/", names[i : i + PER_DIRECTORY])
            for i in range(0, len(names), PER_DIRECTORY)
        ),
    }
    if hasattr(strict_json, "fast_object"):  # the checkout has a fast path: json's beside it
        dicts = [json.loads(x) for x in results]
        jobs["strict_json.json_object alone (json), a put result"] = lambda: drain(
            map(strict_json.json_object, results)
        )
        jobs["strict_json.json_line alone (json), a put result"] = lambda: drain(
            map(strict_json.json_line, dicts)
        )
    rows = ["| s3pput on this checkout | µs per record |", "|---|---|"]
    for name, job in jobs.items():
        # Twice first: a fast path that loads itself after some lines is loaded by then.
        job()
        rows.append(f"| {name} | {per_record(job, len(walked), rounds):.2f} |")
    return rows


def build_tree(root: Path, files: int) -> None:
    """``files`` files of 100 bytes, PER_DIRECTORY to a directory: put's dry run opens each."""
    for n in range(files):
        directory = root / f"d{n // PER_DIRECTORY:04d}"
        if n % PER_DIRECTORY == 0:
            directory.mkdir(parents=True)
        (directory / f"f{n:07d}.dat").write_bytes(b"x" * 100)


def cpu_of(command: list[str], stdin: Path, stdout: Path) -> float:
    """User+system CPU seconds of one run of ``command`` (a child, waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with stdin.open("rb") as source, stdout.open("wb") as sink:
        subprocess.run(command, stdin=source, stdout=sink, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stage_table(files: int, rounds: int) -> list[str]:
    """CPU seconds of put's dry run over ``files`` walk records, and of stat over twice as many."""
    with tempfile.TemporaryDirectory(prefix="bench-json-") as tmp:
        work = Path(tmp)
        build_tree(work / "src", files)
        walked, put_out, stat_in = (work / f"{n}.ndjson" for n in ("walk", "put", "results"))
        with walked.open("wb") as out:
            subprocess.run(["s3pput-walk", str(work / "src")], stdout=out, check=True)
        dry_run = ["s3pput-put", "--bucket", "b", "--dry-run", "--put", "stupid"]
        put_cpu = [cpu_of(dry_run, walked, put_out) for _ in range(rounds)]
        planned = put_out.read_bytes().splitlines()
        stat_in.write_bytes(b"".join(_as_uploaded(x) for x in planned * 2))
        stat_cpu = [cpu_of(["s3pput-stat"], stat_in, work / "stat.txt") for _ in range(rounds)]
    put_s, stat_s = statistics.median(put_cpu), statistics.median(stat_cpu)
    put = f"`s3pput-put --dry-run --put stupid`, {files:,} walk records"
    stat = f"`s3pput-stat`, {2 * files:,} result lines"
    return [
        "| stage | CPU s (median) | µs per record |",
        "|---|---|---|",
        f"| {put} | {put_s:.2f} | {put_s / files * _MICRO:.0f} |",
        f"| {stat} | {stat_s:.2f} | {stat_s / (2 * files) * _MICRO:.1f} |",
    ]


def _as_uploaded(line: bytes) -> bytes:
    """A planned result as an upload's: status uploaded, with an ETag and MD5."""
    digest = hashlib.md5(line, usedforsecurity=False).hexdigest()
    return to_json(from_json(line).evolve(status="uploaded", etag=digest, md5=digest, attempts=1))


def checkout() -> str:
    """The s3pput measured: its commit, or where it is installed when that is no checkout."""
    where = Path(records.__file__).parent
    run = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    return run.stdout.strip() or str(where)


def main(argv: list[str] | None = None) -> int:
    """Print the tables as markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="passes per figure (median)")
    parser.add_argument("--stages", action="store_true", help="also time put and stat (~1 min)")
    parser.add_argument("--stage-rounds", type=int, default=3)
    args = parser.parse_args(argv)
    walked = walk_lines(args.records)
    results = result_lines(walked)
    print(f"s3pput at {checkout()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{args.records:,} records, median of {args.rounds} passes\n")
    print("\n".join(library_table(walked, results, args.rounds)), end="\n\n")
    print("\n".join(contract_table(walked, results, args.rounds)))
    if args.stages:
        print()
        print("\n".join(stage_table(args.records, args.stage_rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
