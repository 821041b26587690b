"""The servers under test: started in their own process group, always stopped.

Each server is started with `start_new_session=True`, so its whole tree (the
`adjudicator run` launcher, embedded redis-server, gunicorn master and workers,
Celery master and children) shares one process group whose id is the pid we got
back from Popen. Stopping sends SIGTERM to the leader (it stops its own children),
waits, then SIGKILLs whatever is left of that group. Ctrl-C in the terminal reaches
only the bench (the servers are in other groups), whose `finally` does the above.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Protocol


class Stoppable(Protocol):
    """Whatever the bench must undo on the way out: a server, a profiler, a schema."""

    def stop(self) -> None: ...


class BenchError(RuntimeError):
    """The bench could not set up or verify a target."""


class Interrupted(BaseException):
    """SIGTERM (or SIGHUP) reached the bench: unwind, stopping every server."""


def raise_on_termination() -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    # Ctrl-C: KeyboardInterrupt, even when started where SIGINT was ignored (a `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One server process tree, its log in a file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name, self.cmd, self.env, self.cwd, self.log = name, cmd, env, cwd, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the leader, wait, then SIGKILL anything left in its process group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                print(f"  {self.name}: no exit {grace:.0f}s after SIGTERM, killing its group")
        _kill_group(self.process.pid)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return ""
        return f"--- {self.log} (last {len(tail)} lines) ---\n" + "\n".join(tail)

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float) -> float:
        """Poll `ready` until it is true; the seconds it took. BenchError if never."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if not self.alive():
                raise BenchError(f"{self.name} exited while waiting for {what}\n{self.log_tail()}")
            if ready():
                return time.monotonic() - start
            time.sleep(0.2)
        raise BenchError(f"{self.name}: no {what} after {timeout:.0f}s\n{self.log_tail()}")


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a group we created (a leader's orphaned children)."""
    for _ in range(10):  # children may still be finishing their own SIGTERM handling
        if not _group_alive(pgid):
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# --- CPU accounting ------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, process group, CPU seconds) of a live process, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICKS


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def group_cpu(pgid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process in group `pgid`, with its role."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pgid:
            stats[int(entry.name)] = (stat[0], stat[2])
    commands = {pid: _cmdline(pid) for pid in stats}
    return {
        pid: (_role(commands[pid], commands.get(ppid, "")), cpu)
        for pid, (ppid, cpu) in stats.items()
    }


def _role(command: str, parent: str) -> str:
    for program, master, child in (
        ("gunicorn", "web master", "web workers"),
        ("celery", "celery master+beat", "celery children"),
    ):
        if program in command:
            return child if program in parent else master
    if "redis-server" in command:
        return "redis-server"
    if "ncpdp serve" in command:
        return "d0 tcp server"
    if "adjudicator run" in command:
        return "launcher"
    return command.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"


def cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent per role between two group_cpu() snapshots."""
    spent: dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        spent[role] = spent.get(role, 0.0) + cpu - (before[pid][1] if pid in before else 0.0)
    return spent


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return (total - idle) / _TICKS, total / _TICKS
