"""The production server (gunicorn) in its own process, for tests that need real separate processes."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn config.wsgi` on a free loopback port (or `port`, chosen ahead when two servers must
    know each other's address) with the given environment (one sync worker unless told otherwise).

    Started at once; wait_ready() blocks until /health answers (or the process dies, with its stderr).
    """

    def __init__(self, env: dict, *, workers: int = 1, worker_class: str = "sync", port: int | None = None):
        self.port = port or free_port()
        # A file, not a pipe: nobody reads a pipe while the server runs, and once its buffer is full
        # (a few tracebacks) every worker blocks writing its log and the server hangs.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "config.wsgi"),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)),
                *("--worker-class", worker_class, "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 30.0) -> "Gunicorn":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url("/health"), timeout=1)
                return self
            except (urllib.error.URLError, OSError):  # refused, reset or timed out while it boots
                if self.proc.poll() is not None:
                    raise RuntimeError(self.stderr()) from None
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn on port {self.port} did not start")

    def stderr(self) -> str:
        """What the server has logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
