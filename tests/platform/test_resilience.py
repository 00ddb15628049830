"""The resilient HTTP client against the stub provider: real sockets on loopback, the breaker in real Redis.

Every test configures one dependency, "stub", pointing at a fresh stub server; a second process (the
same settings, the same Redis) shows that the breaker's state is the fleet's, not the process's.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from integration import errors, resilience
from integration.resilience.breaker import MemoryStorage, SharedBreaker, SharedStorage
from integration.resilience.client import ResilientClient
from integration.resilience.config import policy
from integration.resilience.stub import StubServer
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture
def configure(settings, stub):
    """configure(**overrides) points dependency "stub" at the stub server and returns its settings entry.

    Quick retries and a generous breaker unless a test says otherwise.
    """

    def configure(*, breaker: dict | None = None, **overrides) -> dict:
        entry = {
            "base_url": stub.url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_attempts": 3,
            "backoff_base": 0.02,
            "backoff_max": 0.1,
            "retry_after_cap": 2.0,
            "breaker": {
                "fail_max": 50,
                "failure_rate": 0.5,
                "window": 10.0,
                "min_calls": 50,
                **(breaker or {}),
            },
            **overrides,
        }
        settings.RESILIENCE = {"DEFAULTS": settings.RESILIENCE["DEFAULTS"], "DEPENDENCIES": {"stub": entry}}
        return entry

    return configure


def _state() -> str:
    (state,) = [s.state for s in resilience.breaker_states() if s.dependency == "stub"]
    return state


def _fail(call) -> resilience.DependencyUnavailable:
    with pytest.raises(resilience.DependencyUnavailable) as caught:
        call()
    return caught.value


_SECOND_PROCESS = """
import json, sys, time
import django

django.setup()
from integration import resilience

client = resilience.client("stub")
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    started = time.perf_counter()
    try:
        result = {"status": client.get(line.strip()).status_code}
    except resilience.DependencyUnavailable as exc:
        result = {"error": exc.code, "reason": exc.reason, "attempts": exc.attempts}
    result["elapsed_ms"] = (time.perf_counter() - started) * 1000
    result["states"] = {s.dependency: s.state for s in resilience.breaker_states()}
    print(json.dumps(result), flush=True)
"""


class SecondProcess:
    """Another Django process with the same settings and Redis, calling dependency "stub" on request."""

    def __init__(self, entry: dict):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "RESILIENCE_DEPENDENCIES": json.dumps({"stub": entry}),
        }
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SECOND_PROCESS],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self._read() == {"ready": True}

    def get(self, path: str) -> dict:
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(self._stderr.read().decode())
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=20)
        self._stderr.close()


@pytest.fixture
def second_process():
    started = []

    def start(entry: dict) -> SecondProcess:
        started.append(SecondProcess(entry))
        return started[-1]

    yield start
    for process in started:
        process.close()


# --- timeouts ------------------------------------------------------------------------------------------


def test_a_dependency_slower_than_the_read_timeout_fails_within_it(configure, stub):
    configure(read_timeout=2.0, max_attempts=1)
    stub.app.add_fault(latency=5)
    client = resilience.client("stub")

    started = time.monotonic()
    error = _fail(lambda: client.get("/slow"))
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert isinstance(error, errors.TransientError)
    assert (error.code, error.dependency, error.reason, error.attempts) == (
        "dependency-unavailable",
        "stub",
        "timeout",
        1,
    )


def test_an_unreachable_dependency_is_a_connect_error_and_idempotent_reads_are_retried(configure):
    configure(base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there

    error = _fail(lambda: resilience.client("stub").get("/anything"))

    assert (error.reason, error.attempts, error.upstream_status) == ("connect", 3, None)


# --- the breaker ------------------------------------------------------------------------------------


def test_after_n_failures_the_breaker_is_open_in_another_process_too_and_fails_fast_there(
    configure, stub, second_process, caplog
):
    entry = configure(max_attempts=1, breaker={"fail_max": 3})
    stub.app.add_fault(status=503, times=None)
    client = resilience.client("stub")

    with caplog.at_level("INFO", logger="integration.resilience"):
        for _ in range(3):
            assert _fail(lambda: client.get("/charges/1")).upstream_status == 503
    assert _state() == "open"
    opened = [
        r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == "circuit_breaker.open"
    ]
    assert [(e["dependency"], e["why"]) for e in opened] == [("stub", "3 consecutive failures")]

    other = second_process(entry)
    results = [other.get("/charges/1") for _ in range(5)]

    for result in results:
        assert (result["error"], result["reason"], result["attempts"]) == (
            "dependency-unavailable",
            "breaker-open",
            0,
        )
        assert result["elapsed_ms"] < 50
        assert result["states"]["stub"] == "open"
    assert stub.app.total_calls == 3  # nothing reached the stub from the open breaker


def test_after_the_reset_timeout_one_trial_call_closes_the_breaker(configure, stub):
    configure(max_attempts=1, breaker={"fail_max": 2, "reset_timeout": 1.0})
    client = resilience.client("stub")
    stub.app.add_fault(status=503, times=2)
    for _ in range(2):
        _fail(lambda: client.get("/x"))
    # The stub is healthy again, but the breaker does not know it until the reset timeout is over.
    assert _fail(lambda: client.get("/x")).reason == "breaker-open"
    assert 0 < client.breaker.retry_in() <= 1.0

    time.sleep(client.breaker.retry_in() + 0.05)
    assert client.get("/x").status_code == 200

    assert _state() == "closed"
    assert stub.app.total_calls == 3  # two failures and the one trial
    assert [client.get("/x").status_code for _ in range(3)] == [200, 200, 200]


def test_a_failed_trial_opens_the_breaker_again_for_another_reset_timeout(configure, stub):
    configure(max_attempts=1, breaker={"fail_max": 1, "reset_timeout": 1.0})
    client = resilience.client("stub")
    stub.app.add_fault(status=503, times=None)
    _fail(lambda: client.get("/x"))
    first_opening = resilience.breaker_states()[0].opened_at

    time.sleep(client.breaker.retry_in() + 0.05)
    assert _fail(lambda: client.get("/x")).upstream_status == 503  # the trial reached the stub and failed

    reopened = resilience.breaker_states()[0]
    assert reopened.state == "open" and reopened.opened_at > first_opening
    assert _fail(lambda: client.get("/x")).reason == "breaker-open"
    assert stub.app.total_calls == 2


def test_only_one_trial_call_is_let_through_across_threads_and_processes(configure, stub, second_process):
    entry = configure(max_attempts=1, breaker={"fail_max": 1, "reset_timeout": 1.0})
    client = resilience.client("stub")
    stub.app.add_fault(status=503)
    _fail(lambda: client.get("/x"))
    other = second_process(entry)

    # The trial is slow, so the other callers come while it is running.
    stub.app.add_fault(latency=1.0)
    time.sleep(client.breaker.retry_in() + 0.05)
    trial: dict = {}
    thread = threading.Thread(target=lambda: trial.update(status=client.get("/trial").status_code))
    thread.start()
    deadline = time.monotonic() + 5
    while stub.app.total_calls < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    from_here = _fail(lambda: client.get("/x"))
    from_there = other.get("/x")
    thread.join()

    assert from_here.reason == "breaker-open"
    assert (from_there["reason"], from_there["states"]["stub"]) == ("breaker-open", "half-open")
    assert from_there["elapsed_ms"] < 50
    assert trial == {"status": 200}
    assert _state() == "closed"
    assert stub.app.total_calls == 2  # the first failure and the one trial


def test_the_failure_rate_rule_opens_the_breaker_when_half_the_calls_in_the_window_failed(configure, stub):
    # Alternating outcomes never make 2 consecutive failures; the rate rule must open it.
    configure(max_attempts=1, breaker={"fail_max": 2, "failure_rate": 0.5, "window": 10.0, "min_calls": 6})
    client = resilience.client("stub")
    states = []
    for call in range(6):
        if call % 2:
            stub.app.add_fault(status=503)
            _fail(lambda: client.get("/x"))
        else:
            assert client.get("/x").status_code == 200
        states.append(_state())

    # 1 of 2, 2 of 4 failed: below min_calls. 3 of 6: at least half.
    assert states == ["closed"] * 5 + ["open"]
    assert max(s.failures for s in resilience.breaker_states()) <= 1
    assert _fail(lambda: client.get("/x")).reason == "breaker-open"


def test_calls_to_one_dependency_are_not_serialised_by_its_breaker(configure, stub):
    configure(max_attempts=1)
    stub.app.add_fault(latency=0.5, times=2)
    client = resilience.client("stub")

    threads = [threading.Thread(target=client.get, args=("/x",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert stub.app.max_in_flight == 2


def test_the_breaker_keeps_state_in_process_memory_when_the_cache_is_not_shared(configure, stub, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    configure(max_attempts=1, breaker={"fail_max": 2})
    stub.app.add_fault(status=503, times=None)
    client = resilience.client("stub")

    assert isinstance(client.breaker._state_storage, MemoryStorage)
    for _ in range(2):
        _fail(lambda: client.get("/x"))
    assert _fail(lambda: client.get("/x")).reason == "breaker-open"
    assert stub.app.total_calls == 2


def test_calls_go_through_when_the_breakers_redis_is_unreachable(configure, stub):
    configure()
    conf = policy("stub")
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    storage = SharedStorage(dependency="stub", policy=conf.breaker, redis=unreachable)
    breaker = SharedBreaker(
        dependency="stub", policy=conf.breaker, storage=storage, trial_lease=conf.trial_lease
    )
    client = ResilientClient(policy=conf, breaker=breaker)
    try:
        assert client.get("/x").status_code == 200
        assert breaker.snapshot().state == "closed"
    finally:
        client.close()


# --- what is retried ----------------------------------------------------------------------------------


@pytest.mark.parametrize("drop", ["before", "after"])
def test_a_dropped_connection_on_a_keyed_post_is_retried_and_acts_once(configure, stub, drop):
    configure()
    stub.app.add_fault(drop=drop)
    key = "5b0e6c1a:authorize"

    response = resilience.client("stub").post("/charges", json={"amount": "10.00"}, idempotency_key=key)

    assert response.status_code == 201
    assert response.json()["request"] == {"amount": "10.00"}
    assert stub.app.calls_for(key) == 2
    assert stub.app.effects_for(key) == 1
    # Dropped after the effect: the retry got the provider's stored answer to the first attempt.
    assert response.headers.get("Idempotent-Replayed") == ("true" if drop == "after" else None)


@pytest.mark.parametrize(("fault", "reason"), [({"drop": "after"}, "dropped"), ({"status": 503}, "status")])
def test_a_post_without_a_key_is_not_retried(configure, stub, fault, reason):
    configure()
    stub.app.add_fault(**fault)

    error = _fail(lambda: resilience.client("stub").post("/charges", json={"amount": "10.00"}))

    assert (error.reason, error.attempts) == (reason, 1)
    assert stub.app.total_calls == 1


def test_a_4xx_answer_is_the_callers_and_is_not_retried(configure, stub):
    configure()
    stub.app.add_fault(status=409)

    response = resilience.client("stub").get("/x")

    assert response.status_code == 409
    assert stub.app.total_calls == 1
    assert _state() == "closed" and resilience.breaker_states()[0].failures == 0


def test_a_500_is_transient_but_not_retried(configure, stub):
    configure()
    stub.app.add_fault(status=500, times=None)

    error = _fail(lambda: resilience.client("stub").get("/x"))

    assert (error.reason, error.upstream_status, error.attempts) == ("status", 500, 1)
    assert stub.app.total_calls == 1


def test_retries_run_out_in_a_transient_error_that_crosses_a_wire_as_itself(configure, stub):
    configure(max_attempts=3)
    stub.app.add_fault(status=502, times=None)

    error = _fail(lambda: resilience.client("stub").put("/x", json={}))

    assert (error.reason, error.upstream_status, error.attempts) == ("status", 502, 3)
    assert stub.app.total_calls == 3
    assert errors.error_from_primitive(json.loads(json.dumps(errors.error_to_primitive(error)))) == error


def test_retry_after_is_waited_for(configure, stub):
    configure()
    stub.app.add_fault(status=429, retry_after="1")

    response = resilience.client("stub").get("/x")

    assert response.status_code == 200
    first, second = stub.app.arrivals
    assert second - first >= 1.0


def test_a_retry_after_beyond_the_cap_ends_the_call_at_once_carrying_the_wait(configure, stub):
    configure(retry_after_cap=2.0)
    stub.app.add_fault(status=503, retry_after="120")

    error = _fail(lambda: resilience.client("stub").get("/x"))

    assert (error.upstream_status, error.attempts, error.retry_after) == (503, 1, 120.0)
    assert stub.app.total_calls == 1


def test_retry_after_values():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    in_30s = format_datetime(now + timedelta(seconds=30), usegmt=True)  # "Sat, 01 Mar 2025 12:00:30 GMT"

    assert resilience.parse_retry_after("120") == 120.0
    assert resilience.parse_retry_after(in_30s, now=now.timestamp()) == 30.0
    assert resilience.parse_retry_after("Sat Mar  1 12:00:30 2025", now=now.timestamp()) == 30.0  # asctime
    assert resilience.parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True)) == 0.0
    assert resilience.parse_retry_after("9" * 5000) == 86400.0
    for nonsense in (None, "", "soon", "-5", "1.5"):
        assert resilience.parse_retry_after(nonsense) is None


def test_an_idempotency_key_goes_out_as_the_header_and_must_be_printable_ascii(configure, stub):
    configure()
    client = resilience.client("stub")

    assert client.get("/x").json()["key"] is None
    client.post("/x", json={}, idempotency_key="order-7:capture")
    assert stub.app.calls_for("order-7:capture") == 1
    for bad in ("", "k" * 256, "tab\there", "clé"):
        with pytest.raises(ValueError):
            client.post("/x", json={}, idempotency_key=bad)


# --- settings -----------------------------------------------------------------------------------------


def test_a_dependency_without_an_entry_gets_the_defaults_and_typos_are_refused(settings):
    settings.RESILIENCE = {
        "DEFAULTS": settings.RESILIENCE["DEFAULTS"],
        "DEPENDENCIES": {"carrier": {"read_timeout": 9, "breaker": {"fail_max": 2}}},
    }
    defaults = settings.RESILIENCE["DEFAULTS"]

    assert policy("sms").read_timeout == defaults["read_timeout"]
    carrier = policy("carrier")
    assert (carrier.read_timeout, carrier.breaker.fail_max) == (9.0, 2)
    assert carrier.breaker.reset_timeout == defaults["breaker"]["reset_timeout"]

    settings.RESILIENCE = {**settings.RESILIENCE, "DEPENDENCIES": {"carrier": {"read_timout": 9}}}
    with pytest.raises(ImproperlyConfigured, match="read_timout"):
        policy("carrier")
    settings.RESILIENCE = {
        **settings.RESILIENCE,
        "DEPENDENCIES": {"carrier": {"breaker": {"failure_rate": 50}}},
    }
    with pytest.raises(ImproperlyConfigured, match="failure_rate"):
        policy("carrier")
    with pytest.raises(ImproperlyConfigured):
        policy("Not A Name")


# --- the stub's own control endpoints, as a developer uses them ------------------------------------------


def test_the_stub_is_steered_over_http(stub):
    with httpx.Client(base_url=stub.url) as http:
        assert http.post("/_stub/faults", json={"status": 503, "retry_after": "3"}).status_code == 201
        assert http.post("/_stub/faults", json={"drop": "sideways"}).status_code == 400

        answer = http.get("/anything")
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "3")
        http.post("/effects", json={}, headers={"Idempotency-Key": "k"})
        http.post("/effects", json={}, headers={"Idempotency-Key": "k"})

        assert http.get("/_stub/calls").json() == {
            "total": 3,
            "keys": {"k": 2},
            "effects": {"k": 1},
            "max_in_flight": 1,
        }
        assert http.post("/_stub/reset").status_code == 204
        assert http.get("/_stub/calls").json()["total"] == 0
