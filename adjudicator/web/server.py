"""The web server: gunicorn's processes, each serving with waitress.

gunicorn's own gthread worker gives every new connection a thread that reads its request,
so clients that trickle their bytes hold every thread (issue 13: 64 of them made /healthz
time out). waitress reads each request whole, headers and body, in its I/O thread and
hands a thread only a complete request: a slow client holds a socket, never a thread.
gunicorn still does what it does well: the listening socket, a process per core, a new
worker when one dies, graceful restarts. `gunicorn --worker-class
adjudicator.web.server.WaitressWorker` (decisions.md #96) in `make run`, the Procfile,
docker-compose.yml and the Dockerfile alike.
"""

from __future__ import annotations

import _thread
import os
import threading
import time
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.server import create_server
from waitress.trigger import trigger as waitress_trigger

# waitress's settings for each worker process (gunicorn's own settings for a request's
# size and its threads do not apply to this worker).
OPTIONS: dict[str, Any] = {
    "threads": 16,  # requests a worker runs at once (a claim waits up to 10 s for its decision)
    "connection_limit": 1000,  # open connections, slow ones included, before accepting pauses
    "asyncore_use_poll": True,  # poll(), not select(): no limit of 1,024 descriptors
    "channel_timeout": 30,  # a connection that sends nothing for 30 s is closed
    "cleanup_interval": 10,  # how often that is checked
    "max_request_header_size": 32 * 1024,  # the app's own limits are far below these two
    "max_request_body_size": 1024 * 1024,  # the app answers 413 over 64 KiB itself
    "expose_tracebacks": False,
    "ident": "adjudicator",
}
HEARTBEAT_SECONDS = 1.0


class WaitressWorker(Worker):
    """A gunicorn worker whose requests waitress reads and serves."""

    def run(self) -> None:
        self._stopping = threading.Event()
        sockets = [listener.sock for listener in self.sockets]
        self._server = create_server(self.wsgi, sockets=sockets, **OPTIONS)
        # One listening socket gives a TcpWSGIServer, several a MultiSocketServer.
        self._map = getattr(self._server, "map", None) or self._server._map
        threading.Thread(target=self._heartbeat, name="gunicorn-heartbeat", daemon=True).start()
        self._server.run()  # until SystemExit or KeyboardInterrupt in this thread

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop accepting, finish the requests in flight (see _heartbeat)."""
        self.alive = False
        self._stopping.set()

    def _heartbeat(self) -> None:
        """Tell the arbiter this worker lives; once told to stop (or orphaned), stop
        accepting, let the requests in flight finish within the graceful time-out, then
        end waitress's loop in the main thread."""
        while self.alive and self.ppid == os.getppid():
            self.notify()
            self._stopping.wait(HEARTBEAT_SECONDS)
        trigger = next(d for d in self._map.values() if isinstance(d, waitress_trigger))
        trigger.pull_trigger(self._stop_accepting)  # runs in waitress's loop
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self._busy() and time.monotonic() < deadline:
            self.notify()
            time.sleep(0.05)
        time.sleep(0.1)  # the loop sends what the last request wrote
        _thread.interrupt_main()  # KeyboardInterrupt in the loop's thread: run() returns
        trigger.pull_trigger()  # wake the loop from poll() to raise it now

    def _stop_accepting(self) -> None:
        for dispatcher in list(self._map.values()):
            if getattr(dispatcher, "accepting", False):
                wasyncore.dispatcher.close(dispatcher)  # our copy of the listening socket

    def _busy(self) -> bool:
        tasks = self._server.task_dispatcher
        return bool(tasks.active_count or tasks.queue)
