"""The circuit breaker per dependency: pybreaker's state machine, with its state shared through Redis.

pybreaker (Nygard's closed -> open -> half-open machine) is extended where a fleet of processes needs
more than it gives:

- the state, the consecutive-failure count, the time it opened and a rolling window of outcomes live
  in one Redis hash per dependency (SharedStorage), so a breaker opened by one worker is open in every
  web and worker process; with the embedded default's local-memory cache they live in the process
  (MemoryStorage);
- it opens after `fail_max` consecutive failures (pybreaker's rule) OR when at least `failure_rate` of
  the calls in the last `window` seconds failed, once there were `min_calls` (the seed's rule, like
  opossum's errorThresholdPercentage);
- every transition is a compare-and-set in storage, so of several processes that see the same
  failures exactly one opens the breaker, and logs it;
- after `reset_timeout` exactly one caller in the whole fleet wins the trial call (an atomic claim
  with a lease, in case that caller dies); everybody else keeps failing fast until it ends;
- calls are not serialised: pybreaker holds its lock around the guarded call, which would let one
  thread at a time talk to a dependency; here the lock guards only state changes.

If Redis cannot be reached the breaker lets calls through (state "closed") and logs, at most every
10 seconds: losing the breaker must not take the dependency down with it.
"""

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pybreaker
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from integration.logging import get_logger
from integration.resilience.config import BreakerPolicy

log = get_logger("integration.resilience")

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN

# The rolling window is kept as this many buckets of window/BUCKETS seconds each (opossum's default
# shape): it slides a bucket at a time, and costs a fixed number of keys whatever the call rate.
BUCKETS = 10

# Claim verdicts.
GRANTED, REFUSED, ALREADY_CLOSED = "granted", "refused", "closed"


@dataclass(frozen=True, kw_only=True)
class Tally:
    """Calls and failures in the current rolling window."""

    calls: int
    failures: int

    def trips(self, policy: BreakerPolicy) -> bool:
        return self.calls >= policy.min_calls and self.failures >= policy.failure_rate * self.calls


@dataclass(frozen=True, kw_only=True)
class BreakerState:
    """One breaker as every process sees it: state "closed" | "open" | "half-open", the consecutive
    failures counted so far, and when it last opened (UTC; None unless open or half-open)."""

    dependency: str
    state: str
    failures: int
    opened_at: datetime | None


# --- storage -----------------------------------------------------------------------------------------

# KEYS[1]: the breaker's hash; KEYS[2..]: its window's buckets. ARGV: expected state, new state, now.
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'state') or 'closed'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'successes', 0, 'trial_until', 0)
if ARGV[2] == 'open' then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[3])
elseif ARGV[2] == 'closed' then
  redis.call('HSET', KEYS[1], 'failures', 0)
  redis.call('HDEL', KEYS[1], 'opened_at')
  for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
end
return 1
"""

# KEYS[1]: the breaker's hash. ARGV: now, reset timeout, trial lease (seconds).
_CLAIM_TRIAL = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return 'closed' end
if state == 'open' then
  local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at')) or 0
  if now < opened_at + tonumber(ARGV[2]) then return 'refused' end
else
  local trial_until = tonumber(redis.call('HGET', KEYS[1], 'trial_until')) or 0
  if now < trial_until then return 'refused' end
end
redis.call('HSET', KEYS[1], 'state', 'half-open', 'trial_until', ARGV[1] + ARGV[3])
return 'granted'
"""

# KEYS: the window's buckets, newest first. ARGV: 1 if the call failed else 0, bucket lifetime (ms).
_RECORD = """
redis.call('HINCRBY', KEYS[1], 'calls', 1)
if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[1], 'failures', 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local calls, failures = 0, 0
for _, key in ipairs(KEYS) do
  local counts = redis.call('HMGET', key, 'calls', 'failures')
  calls = calls + (tonumber(counts[1]) or 0)
  failures = failures + (tonumber(counts[2]) or 0)
end
return {calls, failures}
"""


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's storage interface over one Redis hash per dependency, plus the window's buckets.

    Keys: "resilience:breaker:<dependency>" (fields state, failures, successes, opened_at as Unix
    seconds, trial_until) and "resilience:breaker:<dependency>:w:<bucket number>" (calls, failures;
    they expire once out of the window).
    """

    def __init__(self, *, dependency: str, policy: BreakerPolicy, redis: Any):
        super().__init__("redis")
        self._redis = redis
        self._key = f"resilience:breaker:{dependency}"
        self._width = policy.window / BUCKETS
        self._bucket_ms = int(policy.window * 1000 + self._width * 1000) + 1
        self._transition = redis.register_script(_TRANSITION)
        self._claim = redis.register_script(_CLAIM_TRIAL)
        self._record = redis.register_script(_RECORD)
        self._warned_at = 0.0

    # pybreaker's interface
    @property
    def state(self) -> str:
        return self._read("state", CLOSED)

    @state.setter
    def state(self, state: str) -> None:
        self._write(lambda: self._redis.hset(self._key, "state", state))

    def increment_counter(self) -> None:
        self._write(lambda: self._redis.hincrby(self._key, "failures", 1))

    def reset_counter(self) -> None:
        self._write(lambda: self._redis.hset(self._key, "failures", 0))

    def increment_success_counter(self) -> None:
        self._write(lambda: self._redis.hincrby(self._key, "successes", 1))

    def reset_success_counter(self) -> None:
        self._write(lambda: self._redis.hset(self._key, "successes", 0))

    @property
    def counter(self) -> int:
        return int(self._read("failures", "0"))

    @property
    def success_counter(self) -> int:
        return int(self._read("successes", "0"))

    @property
    def opened_at(self) -> datetime | None:
        value = self._read("opened_at", "")
        return datetime.fromtimestamp(float(value), UTC) if value else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self._write(lambda: self._redis.hset(self._key, "opened_at", when.timestamp()))

    # what the fleet needs on top
    def transition(self, *, expected: str, new: str, now: float) -> bool:
        """Move from `expected` to `new` if the state is still `expected`; False if another caller moved
        it first. Opening stamps the time; closing zeroes the failures and empties the window."""
        try:
            return bool(self._transition(keys=[self._key, *self._buckets(now)], args=[expected, new, now]))
        except RedisError as exc:
            self._warn(exc)
            return False

    def claim_trial(self, *, now: float, reset_timeout: float, lease: float) -> str:
        """GRANTED to exactly one caller once the breaker has been open `reset_timeout` seconds (or the
        last trial's `lease` ran out); REFUSED to everyone else; ALREADY_CLOSED if it closed meanwhile."""
        try:
            return self._claim(keys=[self._key], args=[now, reset_timeout, lease]).decode()
        except RedisError as exc:
            self._warn(exc)
            return ALREADY_CLOSED

    def record(self, *, failed: bool, now: float) -> Tally:
        """Count one call's outcome in the window; the window's totals after it."""
        try:
            calls, failures = self._record(keys=self._buckets(now), args=[int(failed), self._bucket_ms])
        except RedisError as exc:
            self._warn(exc)
            return Tally(calls=0, failures=0)
        return Tally(calls=int(calls), failures=int(failures))

    def snapshot(self) -> tuple[str, int, datetime | None]:
        """(state, consecutive failures, opened_at) in one read."""
        try:
            state, failures, opened_at = self._redis.hmget(self._key, "state", "failures", "opened_at")
        except RedisError as exc:
            self._warn(exc)
            return CLOSED, 0, None
        opened = datetime.fromtimestamp(float(opened_at), UTC) if opened_at else None
        return (state.decode() if state else CLOSED), int(failures or 0), opened

    def _buckets(self, now: float) -> list[str]:
        newest = int(now // self._width)
        return [f"{self._key}:w:{newest - i}" for i in range(BUCKETS)]

    def _read(self, field: str, default: str) -> str:
        try:
            value = self._redis.hget(self._key, field)
        except RedisError as exc:
            self._warn(exc)
            return default
        return value.decode() if value else default

    def _write(self, command) -> None:
        try:
            command()
        except RedisError as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 10.0:
            self._warned_at = now
            log.warning("circuit_breaker.storage_unavailable", key=self._key, error=repr(exc))


class MemoryStorage(pybreaker.CircuitMemoryStorage):
    """The same interface in this process only: for the embedded default, whose single process is the
    whole fleet (its cache is local memory too)."""

    def __init__(self, *, policy: BreakerPolicy):
        super().__init__(CLOSED)
        self._lock = threading.Lock()
        self._window = policy.window
        self._outcomes: list[tuple[float, bool]] = []
        self._trial_until = 0.0

    def increment_counter(self) -> None:
        with self._lock:
            self._fail_counter += 1

    def transition(self, *, expected: str, new: str, now: float) -> bool:
        with self._lock:
            if self._state != expected:
                return False
            self._state, self._success_counter, self._trial_until = new, 0, 0.0
            if new == OPEN:
                self._opened_at = datetime.fromtimestamp(now, UTC)
            elif new == CLOSED:
                self._fail_counter, self._opened_at, self._outcomes = 0, None, []
            return True

    def claim_trial(self, *, now: float, reset_timeout: float, lease: float) -> str:
        with self._lock:
            if self._state == CLOSED:
                return ALREADY_CLOSED
            if self._state == OPEN:
                opened_at = self._opened_at.timestamp() if self._opened_at else 0.0
                if now < opened_at + reset_timeout:
                    return REFUSED
            elif now < self._trial_until:
                return REFUSED
            self._state, self._trial_until = HALF_OPEN, now + lease
            return GRANTED

    def record(self, *, failed: bool, now: float) -> Tally:
        with self._lock:
            self._outcomes = [o for o in self._outcomes if o[0] > now - self._window]
            self._outcomes.append((now, failed))
            return Tally(calls=len(self._outcomes), failures=sum(1 for _, f in self._outcomes if f))

    def snapshot(self) -> tuple[str, int, datetime | None]:
        with self._lock:
            return self._state, self._fail_counter, self._opened_at


def storage_for(*, dependency: str, policy: BreakerPolicy) -> SharedStorage | MemoryStorage:
    """Shared through Redis when the default cache is Redis (its connection pool is reused), else in
    process memory."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return SharedStorage(dependency=dependency, policy=policy, redis=cache._cache.get_client(write=True))
    return MemoryStorage(policy=policy)


# --- the breaker -------------------------------------------------------------------------------------


class SharedBreaker(pybreaker.CircuitBreaker):
    """pybreaker's CircuitBreaker for one dependency, over SharedStorage or MemoryStorage.

    `call(func, ...)` runs func under the breaker: it raises pybreaker.CircuitBreakerError without
    calling func while the breaker is open (or another caller holds the trial), and counts every
    exception func raises as a failure unless `exclude` says otherwise (pybreaker's rule).
    """

    def __init__(
        self,
        *,
        dependency: str,
        policy: BreakerPolicy,
        storage: SharedStorage | MemoryStorage,
        trial_lease: float,
        exclude: list | None = None,
    ):
        self.policy = policy
        self.trial_lease = trial_lease
        self._trial = threading.local()
        super().__init__(
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_timeout,
            exclude=exclude,
            listeners=[_RollingWindow()],
            state_storage=storage,
            name=dependency,
            # The call that trips the breaker raises its own error (more telling than "opened").
            throw_new_error_on_trip=False,
        )

    def call(self, func, *args, **kwargs):
        # Not under self._lock, unlike pybreaker: that would serialise every call to the dependency.
        return self.state.call(func, *args, **kwargs)

    @property
    def state(self):
        """The state object for the state in storage, replaced (and listeners told) once when another
        process has moved it."""
        name = self.current_state
        if name != self._state.name:
            with self._lock:
                if name != self._state.name:
                    self._state = self._create_new_state(name, prev_state=self._state, notify=True)
        return self._state

    @state.setter
    def state(self, name: str) -> None:
        with self._lock:
            self._state = self._create_new_state(name, prev_state=self._state, notify=True)

    def snapshot(self) -> BreakerState:
        state, failures, opened_at = self._state_storage.snapshot()
        return BreakerState(dependency=self.name, state=state, failures=failures, opened_at=opened_at)

    @property
    def refusing(self) -> bool:
        """Whether the breaker refused calls when this process last looked (no storage read)."""
        return self._state.name != CLOSED

    def retry_in(self) -> float | None:
        """Seconds until the open breaker lets a trial through (0 when it may now); None if closed."""
        state, _, opened_at = self._state_storage.snapshot()
        if state == CLOSED or opened_at is None:
            return None
        return round(max(0.0, opened_at.timestamp() + self.reset_timeout - time.time()), 3)

    # Transitions: compare-and-set in storage, so each happens (and is logged) once in the fleet.
    def trip(self, *, why: str) -> None:
        self._move(to=OPEN, why=why)

    def open(self) -> bool:
        self._move(to=OPEN, why="opened by hand")
        return self._throw_new_error_on_trip

    def close(self) -> None:
        self._move(to=CLOSED, why="the trial call succeeded")

    def half_open(self) -> None:
        self._move(to=HALF_OPEN, why="half-opened by hand")

    def _move(self, *, to: str, why: str) -> None:
        with self._lock:
            previous = self._state
            if not self._state_storage.transition(expected=previous.name, new=to, now=time.time()):
                return  # another caller, here or in another process, moved it first
            self._state = self._create_new_state(to, prev_state=previous, notify=True)
        level = log.warning if to == OPEN else log.info
        level(
            f"circuit_breaker.{to.replace('-', '_')}", dependency=self.name, previous=previous.name, why=why
        )

    def _create_new_state(self, new_state: str, prev_state=None, notify: bool = False):
        return _STATES[new_state](self, prev_state=prev_state, notify=notify)

    def _call_as_trial(self, func, *args, **kwargs):
        verdict = self._state_storage.claim_trial(
            now=time.time(), reset_timeout=self.reset_timeout, lease=self.trial_lease
        )
        if verdict == ALREADY_CLOSED:
            return self.call(func, *args, **kwargs)
        if verdict != GRANTED:
            raise pybreaker.CircuitBreakerError(f"circuit breaker for {self.name} is open")
        log.info(
            "circuit_breaker.half_open", dependency=self.name, why="reset timeout elapsed: one trial call"
        )
        self._trial.held = True
        try:
            return self.state.call(func, *args, **kwargs)
        finally:
            self._trial.held = False


class _RollingWindow(pybreaker.CircuitBreakerListener):
    """Counts every outcome in the window and opens a closed breaker by the failure-rate rule."""

    def success(self, cb: SharedBreaker) -> None:
        cb._state_storage.record(failed=False, now=time.time())

    def failure(self, cb: SharedBreaker, exc: BaseException) -> None:
        tally = cb._state_storage.record(failed=True, now=time.time())
        if cb._state.name == CLOSED and tally.trips(cb.policy):
            cb.trip(why=f"{tally.failures} of {tally.calls} calls in {cb.policy.window:g} s failed")


def _announce(state: pybreaker.CircuitBreakerState, cb: SharedBreaker, prev_state, notify: bool) -> None:
    # pybreaker's states also reset the shared counters here, in every process that merely notices a
    # change (wiping failures another process just counted); the transition resets them, once.
    if notify:
        for listener in cb.listeners:
            listener.state_change(cb, prev_state, state)


class _Closed(pybreaker.CircuitClosedState):
    def __init__(self, cb, prev_state=None, notify=False):
        pybreaker.CircuitBreakerState.__init__(self, cb, CLOSED)
        _announce(self, cb, prev_state, notify)

    def on_failure(self, exc: BaseException) -> None:
        failures = self._breaker.fail_counter
        if failures >= self._breaker.fail_max:
            self._breaker.trip(why=f"{failures} consecutive failures")


class _Open(pybreaker.CircuitOpenState):
    def __init__(self, cb, prev_state=None, notify=False):
        pybreaker.CircuitBreakerState.__init__(self, cb, OPEN)
        _announce(self, cb, prev_state, notify)
        # Read once per opening, so refusing a call costs only the state read. (cb.policy, not
        # cb.reset_timeout: pybreaker creates the first state before it sets its own attributes.)
        opened_at = cb._state_storage.opened_at
        self._trial_from = opened_at.timestamp() + cb.policy.reset_timeout if opened_at else 0.0

    def call(self, func, *args, **kwargs):
        if time.time() < self._trial_from:
            raise pybreaker.CircuitBreakerError(f"circuit breaker for {self._breaker.name} is open")
        return self._breaker._call_as_trial(func, *args, **kwargs)


class _HalfOpen(pybreaker.CircuitHalfOpenState):
    def __init__(self, cb, prev_state=None, notify=False):
        pybreaker.CircuitBreakerState.__init__(self, cb, HALF_OPEN)
        _announce(self, cb, prev_state, notify)

    def call(self, func, *args, **kwargs):
        if getattr(self._breaker._trial, "held", False):
            return super().call(func, *args, **kwargs)
        # Someone else's trial is running, unless its lease ran out (its caller died): then claim it.
        return self._breaker._call_as_trial(func, *args, **kwargs)

    def on_failure(self, exc: BaseException) -> None:
        self._breaker.trip(why="the trial call failed")

    def on_success(self) -> None:
        # One successful trial closes it (the rule; pybreaker's success_threshold of 1).
        self._breaker.close()


_STATES = {CLOSED: _Closed, OPEN: _Open, HALF_OPEN: _HalfOpen}
