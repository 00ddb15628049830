"""The running API honours its own OpenAPI schema: schemathesis against a real server, as three callers.

A gunicorn process serves the test database (PostgreSQL) with the shared Redis; schemathesis (its CLI,
in subprocesses) reads /api/schema/ from it and runs every check it has (server errors, undocumented
statuses and content types, response bodies and headers against their schemas, schema-valid requests
refused, schema-invalid ones accepted, ignored authentication, ...) on every operation, with a bounded
number of generated examples each, once anonymously, once as a customer and once as staff. Any finding
fails the test, with schemathesis's report (each finding with a curl line to reproduce it).

Logout and logout-all revoke tokens, so each gets a token of its own user: the token every other
operation uses stays valid for the whole run. The server's rate limits are raised so that the run
measures the contract, not the limiter (429 stays documented on every operation).

What schemathesis cannot know is in ALLOWANCES below, each with its reason: a request the schema admits
that the API refuses with a 400 because of a rule no schema can state (the current password must be
right, a new password must not be common). Every other operation keeps the strict check.

Environment: SCHEMATHESIS_EXAMPLES (examples per operation, default 25) and SCHEMATHESIS_SEED (default
fixed, so a run is reproducible; "random" for a fresh one).
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import Gunicorn
from tests.users.conftest import PASSWORD, UserFactory
from tests.worker import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261129")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# The three runs share the machine; past this, the test fails rather than wait (pytest's own timeout
# would leave the runs behind).
RUN_SECONDS = 240

# Statuses schemathesis expects for schema-valid data, as it defaults, plus what depends on the state
# of the data, which no schema can say in advance: 412, a condition the request set (If-Match) that the
# resource no longer meets; 422, a well-formed request that a business rule refuses (a category that
# does not exist, a receipt that removes stock).
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]

# Operations that refuse some schema-valid requests with a 400, and why the schema cannot say so.
ALLOWANCES = {
    "/api/v1/auth/register/": "the password must pass Django's validators (not common, not all digits, "
    "not like the email)",
    "/api/v1/users/me/password/": "the current password must be right, and the new one must pass the "
    "password validators",
    "/api/v1/auth/logout/": "the refresh token must be a live one of the caller's",
    "/api/v1/products/": "min_price may not exceed max_price; a price must be whole minor units of its "
    "currency (1500 JPY, not 1500.5); an image URL must pass Django's URLValidator (a host name of at "
    "most 253 characters, where `format: uri` allows 255)",
    "/api/v1/products/{sku}/": "a new currency needs its price; a price must be whole minor units of "
    "its currency; image URLs as above",
    "/api/v1/inventory/{sku}/adjustments/": "a delta of zero changes nothing",
    "/api/v1/payments/webhooks/{provider}/": "the Shop-Signature must be an HMAC of the body made with the "
    "provider's secret within the last 300 s, which only the provider can send",
    "/api/v1/shipping/webhooks/{carrier}/": "the Shop-Signature must be an HMAC of the body with the "
    "carrier's secret, made within the last 300 s, which no generated request can carry",
    "/api/v1/notifications/preferences/": "transactional messages must include email (OpenAPI 3.0 cannot "
    "require a list to contain a value), and quiet hours must end at another time than they start",
}


def _config(*, token: str | None, own_tokens: dict[str, str]) -> str:
    """schemathesis.toml for one caller: `token` for every operation, `own_tokens` per path."""
    lines = [
        "[generation]",
        f"max-examples = {EXAMPLES}",
        # The API refuses NUL in any string (PostgreSQL cannot store it), as the schema says.
        "allow-x00 = false",
        # A finding is reported as found: shrinking it to a minimal example can take minutes.
        "no-shrink = true",
        'database = "none"',
        "",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(POSITIVE)}",
        "",
    ]
    if token:
        lines[0:0] = [f'headers = {{ Authorization = "Bearer {token}" }}', ""]
    for path in ALLOWANCES:
        lines += [
            "[[operations]]",
            f"include-path = {json.dumps(path)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps([*POSITIVE, '400'])}",
            "",
        ]
    for path, own in own_tokens.items():
        lines += [
            "[[operations]]",
            f"include-path = {json.dumps(path)}",
            f'headers = {{ Authorization = "Bearer {own}" }}',
            "",
        ]
    return "\n".join(lines)


def _login(server: Gunicorn, email: str) -> str:
    request = urllib.request.Request(
        server.url("/api/v1/auth/token/"),
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)["access"]


def server_errors(server: Gunicorn) -> str:
    """The end of what the server logged (tracebacks of any 500), for a failure's message."""
    return "===== the server's log =====\n" + server.stderr()[-6000:]


@pytest.fixture
def server(transactional_db):
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs the shared cache (CACHE_URL=redis://...)")
    limits = {
        f"RATE_LIMIT_{name}": "100000/m"
        for name in ("LOGIN_PER_IP", "LOGIN_PER_EMAIL", "REGISTER_PER_IP", "API_USER", "API_ANON")
    }
    env = {
        **os.environ,
        **limits,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "LOG_LEVEL": "ERROR",
        # Tokens must outlive the run.
        "JWT_ACCESS_TTL_SECONDS": "3600",
    }
    server = Gunicorn(env, workers=2).wait_ready()
    try:
        yield server
    finally:
        server.stop()


def test_the_api_honours_its_schema_for_every_caller(server, tmp_path):
    callers: dict[str, str | None] = {"anonymous": None}
    own: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, staff in (("customer", False), ("staff", True)):
        users = [UserFactory(is_staff=staff) for _ in range(3)]
        callers[role] = _login(server, users[0].email)
        own[role] = {
            "/api/v1/auth/logout/": _login(server, users[1].email),
            "/api/v1/auth/logout-all/": _login(server, users[2].email),
        }

    started = time.monotonic()
    runs = {}
    for name, token in callers.items():
        workdir = tmp_path / name
        workdir.mkdir()
        config = workdir / "schemathesis.toml"
        config.write_text(_config(token=token, own_tokens=own[name]))
        seed = [] if SEED == "random" else ["--seed", SEED]
        runs[name] = subprocess.Popen(
            [
                *(str(SCHEMATHESIS), "--no-color", "--config-file", str(config), "run"),
                *(server.url("/api/schema/"), "--checks", "all", "--continue-on-failure", *seed),
            ],
            cwd=workdir,  # schemathesis keeps a cache directory where it runs
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = started + RUN_SECONDS
        outputs = {
            name: run.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
            for name, run in runs.items()
        }
    finally:
        for run in runs.values():  # a timeout or an error here must not leave fuzzers hammering on
            if run.poll() is None:
                run.kill()
                run.wait()
    elapsed = time.monotonic() - started

    failed = {name: out for name, out in outputs.items() if runs[name].returncode != 0}
    report = "\n\n".join(f"===== as {name} =====\n{out[-12000:]}" for name, out in failed.items())
    assert not failed, f"schemathesis found problems ({elapsed:.0f}s):\n{report}\n\n{server_errors(server)}"
    for out in outputs.values():
        # Every operation in the schema was tested, for every caller.
        selected, total = map(int, re.search(r"Selected: (\d+)/(\d+)", out).groups())
        tested = int(re.search(r"Tested: (\d+)", out).group(1))
        assert selected == total == tested > 0, out[-3000:]
