"""faultproxy, the tests' fault injector: each fault happens for real between boto3 and S3."""

from __future__ import annotations

import gc
import http.client
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.config
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from faultproxy import (
    PASS,
    RESET,
    RESET_AFTER_BODY,
    TRUNCATE,
    FaultProxy,
    RequestInfo,
    Switch,
    answer,
    delay,
    first,
    ratio,
    sequence,
    stall,
)

from s3pput.sandbox.local_s3 import LocalS3

NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1})


@pytest.fixture(name="switch")
def fixture_switch() -> Switch:
    """The proxy's policy: PASS until a test flips it."""
    return Switch()


@pytest.fixture(name="proxy")
def fixture_proxy(s3_server: LocalS3, switch: Switch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test server, checked for internal errors at the end."""
    with FaultProxy(s3_server.s3_port, switch) as proxy:
        yield proxy
        assert not proxy.errors


@pytest.fixture(name="client")
def fixture_client(s3_server: LocalS3, proxy: FaultProxy) -> Any:
    """A boto3 client through the proxy that never retries, so each fault shows."""
    return s3_server.client(proxy.url, NO_RETRIES)


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a ClientError."""
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def stored(s3: Any, bucket: str, key: str) -> bool:
    """Whether the server (asked directly) has the object."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


class TestFaults:
    def test_pass_relays_a_put_and_a_get_on_one_connection(
        self, client: Any, proxy: FaultProxy, bucket: str
    ) -> None:
        """A megabyte goes up (after 100 Continue) and comes back over one kept-alive connection."""
        body = os.urandom(1024 * 1024)
        client.put_object(Bucket=bucket, Key="k", Body=body)
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == body
        assert proxy.requests == [("PUT", f"/{bucket}/k", "PASS"), ("GET", f"/{bucket}/k", "PASS")]
        assert proxy.counts == Counter(PASS=2)
        assert proxy.connections == 1

    def test_answer_is_an_s3_error_and_keeps_the_connection(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A 503 comes back as botocore's SlowDown, and the next request reuses the connection."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        switch.set(answer(503))
        with pytest.raises(ClientError) as exc:
            client.get_object(Bucket=bucket, Key="k")
        assert error_code(exc) == ("SlowDown", 503)
        switch.set(PASS)
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
        assert proxy.counts == Counter(ANSWER=1, PASS=1)
        assert proxy.connections == 1

    def test_answer_comes_before_a_body_the_client_holds_back(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A PUT from botocore waits for 100 Continue; a 500 comes at once, and nothing lands."""
        switch.set(answer(500))
        started = time.monotonic()
        with pytest.raises(ClientError) as exc:
            client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
        assert time.monotonic() - started < 0.9  # botocore waits 1 s for 100 Continue
        assert error_code(exc) == ("InternalError", 500)
        assert not stored(s3, bucket, "k")
        switch.set(PASS)
        client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
        assert stored(s3, bucket, "k")
        assert proxy.counts == Counter(ANSWER=1, PASS=1)

    def test_reset_is_a_closed_connection(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A RST before forwarding: botocore sees the connection closed, and nothing lands."""
        switch.set(RESET)
        with pytest.raises(ConnectionClosedError):
            client.put_object(Bucket=bucket, Key="k", Body=b"hello")
        assert not stored(s3, bucket, "k")
        assert proxy.requests == [("PUT", f"/{bucket}/k", "RESET")]

    def test_reset_after_body_lets_the_body_come_first(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """The proxy says 100 Continue, reads the body, then resets: no 1 s wait, nothing lands."""
        switch.set(RESET_AFTER_BODY)
        started = time.monotonic()
        with pytest.raises(ConnectionClosedError):
            client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
        assert time.monotonic() - started < 0.9
        assert not stored(s3, bucket, "k")
        assert proxy.counts == Counter(RESET_AFTER_BODY=1)

    def test_truncate_cuts_a_get_body(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """Half the body, then EOF: reading it fails in botocore."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
        switch.set(TRUNCATE)
        body = client.get_object(Bucket=bucket, Key="k")["Body"]
        with pytest.raises(ResponseStreamingError, match="IncompleteRead"):
            body.read()
        assert proxy.counts == Counter(TRUNCATE=1)

    def test_truncate_cuts_a_head_answer_in_its_status_line(
        self, client: Any, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A HEAD answer has no body to cut, so it stops half-way through its first line."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        switch.set(TRUNCATE)
        with pytest.raises(ConnectionClosedError):
            client.head_object(Bucket=bucket, Key="k")

    def test_truncated_put_answer_goes_unnoticed_by_botocore(
        self, client: Any, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """An empty answer declared 1 byte long passes botocore (it does not check the length)."""
        switch.set(TRUNCATE)
        response = client.put_object(Bucket=bucket, Key="k", Body=b"hello")
        assert response["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "1"
        assert stored(s3, bucket, "k")

    def test_stall_outlasts_a_read_timeout(
        self, s3_server: LocalS3, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A 1 s stall against a 0.5 s read timeout is a timeout, not an answer."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        impatient = s3_server.client(
            proxy.url, NO_RETRIES.merge(botocore.config.Config(read_timeout=0.5))
        )
        switch.set(stall(1.0))
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            impatient.get_object(Bucket=bucket, Key="k")
        assert 0.5 <= time.monotonic() - started < 1.0
        assert proxy.counts == Counter(STALL=1)

    def test_delay_slows_an_answer_that_still_comes(
        self, client: Any, proxy: FaultProxy, switch: Switch, s3: Any, bucket: str
    ) -> None:
        """A 0.3 s delay, then the real answer."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        switch.set(delay(0.3))
        started = time.monotonic()
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
        assert time.monotonic() - started >= 0.3
        assert proxy.requests == [("GET", f"/{bucket}/k", "DELAY")]


class TestFraming:
    def test_chunked_requests_keep_their_connection(self, proxy: FaultProxy) -> None:
        """Chunked bodies are framed whether answered by the proxy or relayed to the server."""
        proxy.policy = sequence([answer(503)])
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        statuses = []
        for method in ("PUT", "PUT", "GET"):
            body = iter([b"abc", b"defgh"]) if method == "PUT" else None
            connection.request(method, "/nobucket/k", body=body, encode_chunked=body is not None)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()
        assert statuses == [503, 403, 403]  # unsigned: the server denies, but it answers
        assert proxy.counts == Counter(ANSWER=1, PASS=2)
        assert proxy.connections == 1

    def test_latency_slows_each_piece(self, s3_server: LocalS3, s3: Any, bucket: str) -> None:
        """Latency is added to each piece forwarded, either way."""
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        with FaultProxy(s3_server.s3_port, latency=0.1) as proxy:
            client = s3_server.client(proxy.url, NO_RETRIES)
            started = time.monotonic()
            client.get_object(Bucket=bucket, Key="k")["Body"].read()
            assert time.monotonic() - started >= 0.3  # request head, answer head, answer body


class TestLifecycle:
    def test_close_leaves_no_thread_or_socket(self, s3_server: LocalS3) -> None:
        """close() ends a stalled exchange, its thread and every socket it opened."""
        gc.collect()  # an earlier test's garbage must not close its sockets mid-test
        threads, fds = threading.active_count(), open_fds()
        proxy = FaultProxy(s3_server.s3_port, sequence([PASS, stall(30)]))
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.1 403"
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)  # the second request is stalling
            started = time.monotonic()
            proxy.close()
            assert time.monotonic() - started < 2
        assert threading.active_count() == threads
        assert open_fds().items() - fds.items() == set()  # nothing opened is left open
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port))


def open_fds() -> dict[str, str]:
    """File descriptors this process has open, each with what it points at.

    Compared as sets, not counted: another thread closing a descriptor of its
    own (an earlier test's garbage) once made the count look like a leak fixed.
    """
    found = {}
    for entry in Path("/proc/self/fd").iterdir():
        try:
            found[entry.name] = str(entry.readlink())
        except FileNotFoundError:  # the directory's own descriptor, closed already
            continue
    return found


def request(seq: int, method: str = "PUT", target: str = "/b/k") -> RequestInfo:
    """A request as a policy sees it."""
    return RequestInfo(seq, method, target, (("Host", "x"),))


class TestPolicies:
    def test_ratio_is_repeatable_and_near_its_share(self) -> None:
        """The same seed fails the same requests; a share of 0.3 fails about 30 %."""
        requests = [request(n, target=f"/b/{n}") for n in range(2000)]
        plan = [ratio(RESET, 0.3, seed=1)(r).name for r in requests]
        assert plan == [ratio(RESET, 0.3, seed=1)(r).name for r in requests]
        assert plan != [ratio(RESET, 0.3, seed=2)(r).name for r in requests]
        assert 0.25 < plan.count("RESET") / len(plan) < 0.35

    def test_ratio_draws_again_for_a_retry(self) -> None:
        """Attempts at one target are drawn apart, so a retried request can pass."""
        policy = ratio(RESET, 0.5, seed=3)
        names = {policy(request(n)).name for n in range(20)}
        assert names == {"RESET", "PASS"}

    def test_ratio_leaves_other_methods_alone(self) -> None:
        """With methods=["PUT"], a GET always passes."""
        policy = ratio(RESET, 1.0, methods=["PUT"])
        assert policy(request(0, "GET")) == PASS
        assert policy(request(1, "PUT")) == RESET

    def test_first_fails_only_the_first_of_a_kind(self) -> None:
        """first(2, ...) for PUTs: GETs pass, two PUTs fail, later PUTs pass."""
        policy = first(2, RESET, methods=["PUT"])
        methods = ["GET", "PUT", "GET", "PUT", "PUT"]
        got = [policy(request(n, m)).name for n, m in enumerate(methods)]
        assert got == ["PASS", "RESET", "PASS", "RESET", "PASS"]

    def test_sequence_plays_in_order_then_passes(self) -> None:
        """The i-th matching request gets the i-th fault."""
        policy = sequence([TRUNCATE, answer(500)], where=lambda r: "partNumber" in r.params)
        part = "/b/k?partNumber=1&uploadId=u"
        got = [policy(request(n, target=t)) for n, t in enumerate(["/b/k", part, part, part])]
        assert got == [PASS, TRUNCATE, answer(500), PASS]

    def test_switch_can_end_by_itself(self) -> None:
        """set(fault, seconds) holds for that long, then PASS."""
        switch = Switch()
        switch.set(answer(503), seconds=0.2)
        assert switch(request(0)) == answer(503)
        time.sleep(0.25)
        assert switch(request(1)) == PASS

    def test_answers_carry_s3_codes(self) -> None:
        """503 is SlowDown and 500 InternalError, as S3 says them."""
        assert (answer(503).code, answer(500).code) == ("SlowDown", "InternalError")
        assert answer(503).message == "Please reduce your request rate."
