"""Rate limits (django-ratelimit's counters on the shared cache) as DRF throttles: 429 with Retry-After.

Counters live in the shared cache, so a limit holds across every process and server. The general API
limit is the default throttle of every DRF view: per user when the token is valid, per client IP
otherwise (see integration.edge.clientip). Login and registration add stricter buckets. Rates are
settings (RATE_LIMITS) in django-ratelimit's notation, e.g. "5/m" or "10/h".

Password guessing has one budget per account, whichever door checks the password: the API's token
endpoint, the admin's login form, and the two password-change forms (API and admin) that check the
current password. All of them count in the same per-account bucket, keyed by the address in its one
normal form (integration.text.normalize_email: "Quinn@example.com" in fullwidth letters is
quinn@example.com's bucket), and the login doors also share one per-IP bucket. The price: anyone
can spend an account's budget and keep its owner from logging in for the rest of the window (a
minute by default), which is the usual trade against unlimited guessing.

django-ratelimit counts in fixed windows (each key's window is offset by a hash of the key), so
Retry-After is the number of seconds until the window that refused the request resets.
"""

import functools
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpResponse
from django_ratelimit.core import _split_rate, get_usage
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from integration.edge.clientip import bucket_ip
from integration.logging import get_logger
from integration.text import normalize_email
from integration.tokens import CacheUnavailable

log = get_logger(__name__)

Bucket = tuple[str, str, str]  # (group, key value, rate)


def rate(name: str) -> str:
    return settings.RATE_LIMITS[name]


def count(request, buckets: Iterator[Bucket]) -> float:
    """Count the request in each bucket; 0 if every bucket is within its rate, else the seconds to
    wait until the window that refused it resets. Raises CacheUnavailable if the cache is down."""
    wait = 0.0
    for group, value, bucket_rate in buckets:
        try:
            usage = get_usage(
                request,
                group=group,
                key=lambda _group, _request, v=value: v,
                rate=bucket_rate,
                increment=True,
            )
        except Exception as exc:  # the shared cache is down: refuse (fail closed), never crash
            log.warning("ratelimit.cache_unavailable", error=f"{type(exc).__name__}: {exc}")
            raise CacheUnavailable("Rate limits cannot be checked right now.") from exc
        if usage is None or not usage["should_limit"]:
            continue
        # time_left is -1 when the counter could not be read: then wait a whole period.
        left = usage["time_left"] if usage["time_left"] > 0 else _split_rate(bucket_rate)[1]
        wait = max(wait, left, 1)
        log.info("ratelimit.refused", group=group, limit=usage["limit"], retry_after=left)
    return wait


def enforce(request, buckets: Iterator[Bucket]) -> None:
    """count(), for code that is not a throttle: raises DRF's Throttled (429, Retry-After) if over."""
    wait = count(request, buckets)
    if wait:
        raise Throttled(wait=wait)


class BucketThrottle(BaseThrottle):
    """Counts the request in each of its buckets; refused if any bucket is over its rate."""

    def buckets(self, request, view) -> Iterator[Bucket]:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self._wait = count(request, self.buckets(request, view))
        return self._wait == 0

    def wait(self) -> float:
        return max(1, self._wait)


class ApiRateThrottle(BucketThrottle):
    """Every API request: one bucket per authenticated user, one per anonymous client IP."""

    def buckets(self, request, view) -> Iterator[Bucket]:
        user = request.user
        if user is not None and getattr(user, "is_authenticated", False):
            yield "api.user", str(user.pk), rate("API_USER")
        else:
            yield "api.anon", bucket_ip(request), rate("API_ANON")


def account_buckets(login: object) -> Iterator[Bucket]:
    """The account's password-guessing budget: one bucket per normalised address, for every door."""
    if isinstance(login, str) and login.strip():
        yield "password.account", normalize_email(login), rate("LOGIN_PER_EMAIL")


def login_buckets(request, login: object) -> Iterator[Bucket]:
    """A login attempt, whatever its outcome and door: the client IP's bucket and the account's."""
    yield "login.ip", bucket_ip(request), rate("LOGIN_PER_IP")
    yield from account_buckets(login)


class LoginRateThrottle(BucketThrottle):
    """The API's token endpoint: the login buckets, keyed by the email in the JSON body."""

    def buckets(self, request, view) -> Iterator[Bucket]:
        data = request.data
        return login_buckets(request, data.get("email") if isinstance(data, dict) else None)


class RegisterRateThrottle(BucketThrottle):
    """Account creation: per client IP."""

    def buckets(self, request, view) -> Iterator[Bucket]:
        yield "auth.register.ip", bucket_ip(request), rate("REGISTER_PER_IP")


def _form_limited(view, buckets_of: Callable[[object], Iterator[Bucket]]):
    """Wrap a Django form view: each POST counts in buckets_of(request); over the rate, a plain 429."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            wait = count(request, buckets_of(request))
            if wait:
                response = HttpResponse("Too many attempts; try again later.", status=429)
                response["Retry-After"] = str(int(wait))
                return response
        return view(request, *args, **kwargs)

    return wrapped


def login_limited(view):
    """A form login view (the admin's): the same login buckets as the API, keyed by the username."""
    return _form_limited(view, lambda request: login_buckets(request, request.POST.get("username")))


def password_change_limited(view):
    """A form that checks the signed-in user's current password (the admin's password change): it
    spends that account's budget, as a login would."""

    def buckets_of(request) -> Iterator[Bucket]:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            yield from account_buckets(user.get_username())

    return _form_limited(view, buckets_of)
