"""Hosts for multi-host tests: an sshd in each of a few network namespaces, made and unmade here.

Each host is a network namespace joined to this one by a veth pair, with its
own sshd on its own address: ``ssh host`` crosses a real (virtual) network,
and killing every process in the namespace is a host that crashed. The hosts
share this machine's file system, so the project is installed on them as it
is here (its commands on the PATH their sshd gives), and a tree walked by its
absolute path is the same tree everywhere.

S3 is reached from the hosts through a relay that the caller starts on the
first host's gateway address; every other host routes to that address through
its own gateway. Nothing here touches an interface it did not create. Needs
root, iproute2 and OpenSSH's server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

_READY_SECONDS: Final = 10.0
_SSHD_CANDIDATES: Final = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


class HostsError(RuntimeError):
    """The hosts could not be made (not root, no sshd, no ip)."""


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise HostsError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _sshd() -> str:
    for candidate in _SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("sshd")
    if found is None:
        raise HostsError("sshd not found: apt-get install openssh-server (make test does)")
    return found


@dataclass
class Host:
    """One host: its name in ssh_config, its namespace and addresses, its sshd."""

    name: str
    namespace: str
    address: str
    gateway: str
    """This machine's end of the veth pair, as the host sees it."""
    sshd: subprocess.Popen[bytes] | None = None

    def pids(self) -> list[int]:
        """Every process in the host's namespace."""
        listed = subprocess.run(
            ["ip", "netns", "pids", self.namespace], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in listed.stdout.split()]

    def crash(self) -> None:
        """SIGKILL everything running on the host, sshd and its sessions included."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.sshd is not None:
            self.sshd.wait(timeout=10)


class Hosts:
    """``count`` hosts named h1, h2...; ``start(env)`` gives their sessions ``env``."""

    def __init__(self, workdir: Path, count: int = 2) -> None:
        if os.geteuid() != 0:
            raise HostsError("network namespaces need root")
        self._dir = workdir
        tag = os.getpid() % 100_000
        octet = 200 + os.getpid() % 50
        self.hosts = [
            Host(
                name=f"h{n}",
                namespace=f"s3pput-{tag}-h{n}",
                address=f"10.{octet}.{n}.2",
                gateway=f"10.{octet}.{n}.1",
            )
            for n in range(1, count + 1)
        ]
        self._veths = [f"s3p{tag}h{n}" for n in range(1, count + 1)]
        self.ssh_config = workdir / "ssh_config"

    @property
    def ssh(self) -> str:
        """The ssh command for GNU parallel's ``--ssh``."""
        return f"ssh -F {self.ssh_config}"

    @property
    def gateway(self) -> str:
        """The address every host reaches this machine at (the first host's gateway)."""
        return self.hosts[0].gateway

    def __getitem__(self, name: str) -> Host:
        return next(host for host in self.hosts if host.name == name)

    def make_network(self) -> None:
        """Create the namespaces and veth pairs; afterwards ``gateway`` can be listened on."""
        for host, veth in zip(self.hosts, self._veths, strict=True):
            _run("ip", "netns", "add", host.namespace)
            _run("ip", "link", "add", f"{veth}a", "type", "veth", "peer", "name", f"{veth}b")
            _run("ip", "link", "set", f"{veth}b", "netns", host.namespace)
            _run("ip", "addr", "add", f"{host.gateway}/24", "dev", f"{veth}a")
            _run("ip", "link", "set", f"{veth}a", "up")
            inside = ("ip", "netns", "exec", host.namespace)
            _run(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", f"{veth}b")
            _run(*inside, "ip", "link", "set", f"{veth}b", "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            if host.gateway != self.gateway:
                _run(*inside, "ip", "route", "add", f"{self.gateway}/32", "via", host.gateway)

    def start(self, env: Mapping[str, str]) -> None:
        """Start every host's sshd, whose sessions get ``env``, and write the ssh config."""
        for name in ("host_key", "user_key"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self._dir / name))
        shutil.copy(self._dir / "user_key.pub", self._dir / "authorized_keys")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        entries = []
        for host in self.hosts:
            self._write_sshd_config(host, env)
            host.sshd = self._start_sshd(host)
            entries.append(f"Host {host.name}\n  HostName {host.address}\n")
        entries.append(
            "Host *\n  User root\n"
            f"  IdentityFile {self._dir / 'user_key'}\n  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
            "  LogLevel ERROR\n  BatchMode yes\n  ConnectTimeout 5\n"
        )
        self.ssh_config.write_text("".join(entries))

    def restart(self, name: str) -> None:
        """Bring a crashed host's sshd back."""
        host = self[name]
        host.sshd = self._start_sshd(host)

    def _write_sshd_config(self, host: Host, env: Mapping[str, str]) -> None:
        for value in env.values():
            if any(char.isspace() or char == '"' for char in value):
                raise HostsError(f"cannot pass {value!r} through sshd's SetEnv")
        settings = " ".join(f"{name}={value}" for name, value in env.items())
        (self._dir / f"sshd_{host.name}.conf").write_text(
            f"Port 22\nListenAddress {host.address}\n"
            f"HostKey {self._dir / 'host_key'}\nPidFile {self._dir / f'sshd_{host.name}.pid'}\n"
            f"AuthorizedKeysFile {self._dir / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n"
            f"SetEnv S3PPUT_TEST_HOST={host.name} {settings}\n"
        )

    def _start_sshd(self, host: Host) -> subprocess.Popen[bytes]:
        log = (self._dir / f"sshd_{host.name}.log").open("ab")
        config = str(self._dir / f"sshd_{host.name}.conf")
        with log:
            process = subprocess.Popen(
                ["ip", "netns", "exec", host.namespace, _sshd(), "-D", "-e", "-f", config],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + _READY_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise HostsError(f"sshd of {host.name} exited: see {log.name}")
            with contextlib.suppress(OSError), socket.create_connection((host.address, 22), 1):
                return process
            time.sleep(0.05)
        process.kill()
        raise HostsError(f"sshd of {host.name} did not listen within {_READY_SECONDS} s")

    def close(self) -> None:
        """Kill everything on every host and remove the namespaces (their veths go with them)."""
        for host in self.hosts:
            host.crash()
            subprocess.run(["ip", "netns", "del", host.namespace], check=False)
        for veth in self._veths:  # gone with the namespace, unless making it failed half-way
            subprocess.run(
                ["ip", "link", "del", f"{veth}a"], capture_output=True, check=False, timeout=30
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
