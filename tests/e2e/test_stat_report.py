"""``s3pput-stat --report run.html``, looked at in headless Chromium as a user would.

The page is rendered by Debian's ``chromium`` (``scripts/system-deps.sh
--test`` installs it): a screenshot must show the chart's line drawn in the
host's colour (a blank page, or a chart of zeros, fails), and the DOM
Chromium built must hold every section and no script. One run is a real
``walk | put`` against the SeaweedFS fixture; beside it, hand-written
results of two hosts give a chart of known shape.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from pngread import Image, read_png

from s3pput.stat.report_svg import PALETTE

BIN: Final = Path(sys.executable).parent
SECTIONS: Final = ("summary", "throughput", "latency", "errors", "retries", "slowest")
RUN_SECONDS: Final = 60
"""How long a launch of Chromium may take on a loaded machine before the test fails."""
MIN_SHAPE: Final = 300
"""Pixels of one colour in one shape that make a line: the legend's swatch has 144."""
TALL: Final = 40
"""Pixels a drawn line must rise: its highest value is at least 40 % of the plot's 198."""
WIDE: Final = 200


@pytest.fixture(name="chromium")
def fixture_chromium() -> str:
    """The browser; its absence is a failure, not a skip: CI installs it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run scripts/system-deps.sh --test"
    return found


def browse(chromium: str, page: Path, profile: Path, *args: str) -> bytes:
    """Run headless Chromium on a local page in its own session; return what it printed.

    ``--no-sandbox`` because tests run as root in CI containers, where Chromium's
    sandbox cannot start; the page is our own file, with no script and a CSP.
    The whole process group is killed if it outlives ``RUN_SECONDS``.
    """
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    with subprocess.Popen(  # our own arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as process:
        try:
            out, _ = process.communicate(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        finally:
            # Helpers Chromium forked and left behind, in the group we made.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, f"chromium exited {process.returncode}"
    return out


def screenshot(chromium: str, page: Path, tmp_path: Path) -> Image:
    """A 1000x900 screenshot of the top of the page: the summary and the throughput chart."""
    shot = tmp_path / "shot.png"
    browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1000,900")
    return read_png(shot)


def dom(chromium: str, page: Path, tmp_path: Path) -> str:
    """The page's DOM as Chromium built it."""
    return browse(chromium, page, tmp_path / "profile", "--dump-dom").decode()


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(pixel, colour, strict=True))


def line_extent(image: Image, hex_colour: str) -> tuple[int, int]:
    """Height and width, in pixels, of where a chart line of ``hex_colour`` was drawn.

    The pixels of that colour are grouped into connected shapes, and shapes
    of more than ``MIN_SHAPE`` pixels count: a line is one shape, as long as
    the chart is wide, and as tall as its values rise. The legend's 12x12
    swatch and a few text pixels are too small to count; a line that never
    leaves zero is as tall as its stroke (2 pixels); a blank page is (0, 0).
    """
    colour = (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))
    lit = {
        (x, y)
        for y in range(image.height)
        for x in range(image.width)
        if _near(image.rgb(x, y), colour)
    }
    top, bottom, left, right = image.height, -1, image.width, -1
    while lit:
        shape = [lit.pop()]
        for x, y in shape:  # grows while it is walked: a flood fill
            for near in ((x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
                if near in lit:
                    lit.remove(near)
                    shape.append(near)
        if len(shape) > MIN_SHAPE:
            top, bottom = min(top, *(y for _, y in shape)), max(bottom, *(y for _, y in shape))
            left, right = min(left, *(x for x, _ in shape)), max(right, *(x for x, _ in shape))
    return (bottom - top + 1, right - left + 1) if bottom >= 0 else (0, 0)


def stat(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``s3pput-stat`` with its output captured."""
    return subprocess.run(  # our own command
        [str(BIN / "s3pput-stat"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def host_results(host: int, start: float) -> str:
    """A minute of one host's uploads at a rising rate, a few retried and two failed."""
    lines = []
    for second in range(60):
        for i in range(1 + second // (10 * host)):
            key = f"h{host}/{second}-{i}.bin"
            size = 1000 * (i + 1) * host
            record = {
                "s3pput": 1,
                "path": key,
                "key": key,
                "size": size,
                "status": "uploaded",
                "bytes": size,
                "seconds": 0.2 + i / 10,
                "ts": start + second + i / 100,
                "attempts": 1 + (second % 17 == 0),
            }
            lines.append(json.dumps(record))
    for n in range(2):
        failed = {
            "s3pput": 1,
            "path": f"h{host}/bad{n}",
            "key": f"h{host}/<b>bad{n}</b>",
            "status": "failed",
            "stage": "put",
            "error": "PutObject: SlowDown Please reduce your request rate.",
            "seconds": 4.0,
            "ts": start + 30 + n,
            "attempts": 5,
        }
        lines.append(json.dumps(failed))
    return "\n".join(lines) + "\n"


class TestReportInChromium:
    """What a person opening the page sees."""

    def test_two_hosts_draw_two_lines(self, chromium: str, tmp_path: Path) -> None:
        """Merged outputs of two hosts: a line per host in its colour, every section in the DOM."""
        (tmp_path / "host1.ndjson").write_text(host_results(1, 1_700_000_000.0))
        (tmp_path / "host2.ndjson").write_text(host_results(2, 1_700_000_005.0))
        result = stat("host1.ndjson", "host2.ndjson", "--report", "run.html", cwd=tmp_path)
        assert result.returncode == 1, result.stderr  # four records failed
        page = tmp_path / "run.html"

        image = screenshot(chromium, page, tmp_path)
        for colour in PALETTE[:2]:
            height, width = line_extent(image, colour)
            assert height >= TALL, f"the line in {colour} never rises"
            assert width >= WIDE, f"the line in {colour} is not across the chart"

        built = dom(chromium, page, tmp_path)
        for section in SECTIONS:
            assert f'<section id="{section}">' in built
        assert "host1.ndjson" in built
        assert "host2.ndjson" in built
        assert "PutObject: SlowDown" in built
        assert "&lt;b&gt;bad0&lt;/b&gt;" in built
        assert "<script" not in built
        assert built.count("<svg") == 4  # bytes/s, files/s, latency, retries

    def test_a_blank_page_is_told_apart(self, chromium: str, tmp_path: Path) -> None:
        """The check itself: a page with no chart has no line in the hosts' colours."""
        page = tmp_path / "blank.html"
        page.write_text(
            "<!DOCTYPE html><html><body><h1>no chart</h1>"
            '<p style="color:#1f77b4">x</p></body></html>'
        )
        assert line_extent(screenshot(chromium, page, tmp_path), PALETTE[0]) == (0, 0)

    def test_a_chart_of_zeros_is_told_apart(self, chromium: str, tmp_path: Path) -> None:
        """The check itself: skipped records only draw a flat line at zero, which never rises."""
        skipped = {"s3pput": 1, "path": "a", "key": "a", "status": "skipped", "seconds": 0.01}
        lines = [json.dumps({**skipped, "ts": 1_700_000_000.0 + s}) for s in range(30)]
        (tmp_path / "skips.ndjson").write_text("\n".join(lines) + "\n")
        assert stat("skips.ndjson", "--report", "run.html", cwd=tmp_path).returncode == 0
        height, width = line_extent(
            screenshot(chromium, tmp_path / "run.html", tmp_path), PALETTE[0]
        )
        assert width >= WIDE  # the line is there, along the bottom
        assert height < TALL


def test_a_real_upload_makes_a_report(
    chromium: str, s3_env: dict[str, str], bucket: str, tmp_path: Path
) -> None:
    """``walk | put | stat --report`` against the real server: the report shows the run."""
    tree = tmp_path / "tree"
    for i in range(40):
        path = tree / f"d{i % 4}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 * (i + 1) + (i % 3) * 300_000))
    pipeline = (
        f"s3pput-walk {tree} | s3pput-put --bucket {bucket} -j 4 | tee run.ndjson "
        "| s3pput-stat --report run.html"
    )
    done = subprocess.run(  # our own pipeline
        ["bash", "-o", "pipefail", "-c", pipeline],  # bash from PATH, as a user's
        cwd=tmp_path,
        env=s3_env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"in 40 files" in done.stdout

    page = tmp_path / "run.html"
    height, width = line_extent(screenshot(chromium, page, tmp_path), PALETTE[0])
    assert height >= TALL, "the line never rises"
    assert width >= WIDE, "the line is not across the chart"
    built = dom(chromium, page, tmp_path)
    for section in SECTIONS:
        assert f'<section id="{section}">' in built
    assert "stdin" in built  # the host of records read from a pipe
    assert "d1/f" in built  # a key among the slowest


def imported(*args: str, cwd: Path) -> set[str]:
    """The modules ``s3pput-stat`` loaded, from Python's own import log."""
    done = subprocess.run(
        [str(BIN / "s3pput-stat"), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.decode(errors="replace").splitlines()
        if line.startswith("import time:") and "|" in line
    }


class TestReportOption:
    """``--report`` beside the summary: the summary is unchanged, a failure is said in one line."""

    def test_the_summary_is_the_same_with_a_report(self, tmp_path: Path) -> None:
        """Stdout is byte for byte what it is without ``--report``."""
        (tmp_path / "h1.ndjson").write_text(host_results(1, 1_700_000_000.0))
        plain = stat("h1.ndjson", "--json", cwd=tmp_path)
        reported = stat("h1.ndjson", "--json", "--report", "r.html", cwd=tmp_path)
        assert reported.stdout == plain.stdout
        assert reported.returncode == plain.returncode == 1
        assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")

    def test_a_missing_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        """Said at once, before any record is read: one line, exit 2."""
        result = stat("--report", "no/such/dir/r.html", cwd=tmp_path)
        assert result.returncode == 2  # a usage error
        assert b"--report: no such directory: no/such/dir" in result.stderr
        assert len(result.stderr.splitlines()) <= 5  # the short usage error
        assert result.stdout == b""

    def test_the_report_is_not_written_to_stdout(self, tmp_path: Path) -> None:
        """``--report -`` is refused: stdout is the summary's, and no file named ``-`` appears."""
        result = stat("--report", "-", cwd=tmp_path)
        assert result.returncode == 2  # a usage error
        assert b"--report: give a file name" in result.stderr
        assert not (tmp_path / "-").exists()

    def test_a_report_that_cannot_be_written_exits_2(self, tmp_path: Path) -> None:
        """The summary is still printed; the report's failure is one log line and exit 2."""
        (tmp_path / "h1.ndjson").write_text(host_results(1, 1_700_000_000.0).split("\n")[0])
        result = stat("h1.ndjson", "--report", "/proc/run.html", cwd=tmp_path)
        assert result.returncode == 2, result.stderr  # fatal: nothing written
        assert result.stdout.startswith(b"put ")
        assert b"cannot write the report" in result.stderr
        assert b"Traceback" not in result.stderr

    def test_the_report_is_loaded_only_when_asked_for(self, tmp_path: Path) -> None:
        """A plain stat loads no report module; with ``--report``, still no AWS library."""
        (tmp_path / "h1.ndjson").write_text(host_results(1, 1_700_000_000.0))
        plain = imported("h1.ndjson", cwd=tmp_path)
        assert "s3pput.stat.summary" in plain  # the log was read
        assert not {name for name in plain if name.startswith("s3pput.stat.report")}
        reported = imported("h1.ndjson", "--report", "r.html", cwd=tmp_path)
        assert "s3pput.stat.report_html" in reported
        heavy = {"boto3", "botocore", "awscrt", "_awscrt", "magic"}
        assert not {name.split(".")[0] for name in reported} & heavy


def test_ctrl_c_still_writes_the_report(tmp_path: Path) -> None:
    """Interrupted, stat writes the report of what it counted, beside its summary, and exits 130.

    stderr is a pty, so stat draws its progress line once the first record is
    counted: the signal is sent after that, never before stat is ready.
    """
    record = json.loads(host_results(1, 1_700_000_000.0).split("\n")[0])
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(
            [str(BIN / "s3pput-stat"), "--report", "run.html"],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=slave,
        ) as proc:
            os.close(slave)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(record).encode() + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no progress line: stat did not count the record"
            proc.send_signal(signal.SIGINT)
            # communicate closes stdin: the input ends, so stat stops draining at once.
            stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 130  # interrupted
    assert stdout.startswith(b"put ")
    assert record["key"] in (tmp_path / "run.html").read_text()


def test_the_one_command_writes_the_same_report(
    s3_env: dict[str, str], bucket: str, tmp_path: Path
) -> None:
    """``s3pput SRC --report``: every section, this machine's name as the host, exit 0."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(12):
        (tree / f"f{i}.bin").write_bytes(os.urandom(1000 * (i + 1)))
    done = subprocess.run(  # our own command
        ["s3pput", str(tree), "--bucket", bucket, "--report", "run.html"],
        cwd=tmp_path,
        env=s3_env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    page = (tmp_path / "run.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert html.escape(socket.gethostname()) in page
    assert "f11.bin" in page  # a key among the slowest

    refused = subprocess.run(  # our own command
        ["s3pput", str(tree), "--bucket", bucket, "--report", "no/such/dir/run.html"],
        cwd=tmp_path,
        env=s3_env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert b"--report: no such directory" in refused.stderr
