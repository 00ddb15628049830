"""A private RabbitMQ node for tests that stop and restart the broker: the machine's shared broker must
stay up for everyone else, so these tests run their own node on free loopback ports, with its own data
directory (kept across a restart, as a real broker's disk is), logs, Erlang cookie and no plugins."""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from kombu import Connection

from tests.processes import free_port

# Debian and Ubuntu put the real scripts here; /usr/sbin holds wrappers that switch to the rabbitmq
# user and its home (the shared node's cookie and logs), which a private node must not use.
PACKAGED_SCRIPTS = Path("/usr/lib/rabbitmq/bin")


class NodeUnavailable(RuntimeError):
    """RabbitMQ's server scripts are not installed on this machine."""


def scripts_dir() -> Path:
    if (PACKAGED_SCRIPTS / "rabbitmq-server").exists():
        return PACKAGED_SCRIPTS
    found = shutil.which("rabbitmq-server")
    if not found:
        raise NodeUnavailable("rabbitmq-server is not installed")
    return Path(found).resolve().parent


class RabbitMQNode:
    """One RabbitMQ node under `base` (a fresh directory). start() returns once the broker accepts
    AMQP connections; stop() shuts the node down for good (its durable queues and persistent messages
    stay on disk for the next start()); destroy() stops it and removes every process it started."""

    def __init__(self, base: Path):
        self.base = base
        self.bin = scripts_dir()
        self.name = f"shop-test-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.pid_file = base / "rabbitmq.pid"
        home = base / "home"  # rabbitmqctl finds the node's Erlang cookie here
        home.mkdir(exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text("")
        (base / "rabbitmq-env.conf").write_text("")
        self.env = {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            # Not the machine's rabbitmq-env.conf: it names the shared node.
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self.proc: subprocess.Popen | None = None
        self.output = base / "server.out"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """`rabbitmqctl -n <this node> <args>`; its output, or an error with it."""
        done = subprocess.run(
            [str(self.bin / "rabbitmqctl"), "-q", "-n", self.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}\n{self.log_tail()}")
        return done.stdout

    def start(self, timeout: float = 60) -> "RabbitMQNode":
        with self.output.open("a") as out:
            self.proc = subprocess.Popen(
                [str(self.bin / "rabbitmq-server")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Waits for the pid file, then for the broker (and its listener) to be up; fails if it dies.
        self.ctl("wait", "--timeout", str(int(timeout)), str(self.pid_file), timeout=timeout + 10)
        return self

    def stop(self) -> None:
        """Stop the whole node, as an operator's `rabbitmqctl stop` does: clients' connections close."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.ctl("stop", str(self.pid_file))
        self.proc.wait(timeout=30)
        self._kill_group()

    def stop_app(self) -> None:
        """Stop the broker application but keep the node running: connections close, new ones are
        refused until start_app()."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    def message_count(self, queue: str) -> int:
        with Connection(self.url) as conn:
            _, count, _ = conn.channel().queue_declare(queue, passive=True)
            return count

    def log_tail(self, chars: int = 3000) -> str:
        logs = [*sorted((self.base / "log").glob("*.log")), self.output]
        return "\n".join(p.read_text(errors="replace")[-chars:] for p in logs if p.exists())

    def destroy(self) -> None:
        """Stop the node (killing it if it will not stop) and remove its directory."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop()
        self._kill_group()
        shutil.rmtree(self.base, ignore_errors=True)

    def leftover_processes(self) -> list[str]:
        """Processes of this node still running (its name is on the Erlang VM's command line)."""
        found = subprocess.run(["pgrep", "-af", self.name], capture_output=True, text=True, check=False)
        return found.stdout.splitlines()

    def _kill_group(self) -> None:
        """Whatever the server script started in its session (the Erlang VM, its port helpers)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
