"""Placement: CONTEXTS_LOCAL names the contexts a deployment holds, and the rest follows from it — the
database router (reads, writes and migrations of the other contexts' models), the admin, the checks,
Celery's queues, routes and beat schedule, /internal/ and the event consumer's default handlers."""

import io
import json
import re
import subprocess
import sys

import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, router
from django.db.migrations.loader import MigrationLoader
from django.test import RequestFactory
from django.urls import get_resolver
from rest_framework_simplejwt.tokens import RefreshToken

from contexts.notifications.models import Notification
from contexts.orders.models import Order
from contexts.payments.models import Payment
from integration import checks, placement
from integration.bus import rabbitmq
from integration.contexts import context_configs
from integration.db import ContextNotLocal, admin_unregister_non_local
from integration.services import remote
from tests.worker import ROOT, database_url, process_env

CONTEXTS = ["users", "catalog", "orders", "payments", "shipping", "notifications"]
SERVICE = ["payments", "notifications"]
MONOLITH = ["users", "catalog", "orders", "shipping"]
# What the service must say about the contexts with an api that it does not hold (orders has none).
SERVICE_REMOTE = {"users": "http://shop:8000", "catalog": "http://shop:8000", "shipping": "http://shop:8000"}


@pytest.fixture(autouse=True)
def _urls_loaded_as_the_suite_s():
    """The URLconf mounts the local contexts' routes once, when first resolved (config.urls); resolved
    first under a placement fixture below, it would leave the rest of the session without the others'."""
    get_resolver().url_patterns


@pytest.fixture
def as_monolith(settings):
    """This process placed as a monolith that extracted payments and notifications."""
    settings.CONTEXTS_LOCAL = MONOLITH
    settings.CONTEXTS_REMOTE = {"payments": "http://payments:8000"}
    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq"}
    return settings


@pytest.fixture
def as_service(settings):
    """This process placed as the payments service (payments and notifications)."""
    settings.CONTEXTS_LOCAL = SERVICE
    settings.CONTEXTS_REMOTE = SERVICE_REMOTE
    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq"}
    return settings


# --- The setting and what settings.py derives from it ------------------------------------------------


def test_the_settings_contexts_are_the_installed_contexts_and_all_are_local_by_default():
    assert settings.CONTEXTS == CONTEXTS == [c.label for c in context_configs()]
    assert settings.CONTEXTS_LOCAL == CONTEXTS  # the test settings set neither variable


def test_unset_every_context_not_remote_is_local_and_a_set_value_keeps_the_contexts_order():
    assert placement.local_contexts(CONTEXTS, configured=None, remote={"payments": "x"}) == [
        "users",
        "catalog",
        "orders",
        "shipping",
        "notifications",
    ]
    assert (
        placement.local_contexts(CONTEXTS, configured=[" notifications", "payments "], remote={}) == SERVICE
    )


@pytest.mark.parametrize(
    ("configured", "remote", "message"),
    [
        (["payments", "paymnets"], {}, "CONTEXTS_LOCAL names 'paymnets', which is not a context"),
        (["payments"], {"payments": "http://p"}, "'payments' is both local (CONTEXTS_LOCAL) and remote"),
        ([], {}, "CONTEXTS_LOCAL names no context"),
    ],
)
def test_a_placement_that_cannot_be_is_refused_when_the_settings_load(configured, remote, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        placement.local_contexts(CONTEXTS, configured=configured, remote=remote)


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ('{"payments": "payments:8000"}', "CONTEXTS_REMOTE['payments'] is 'payments:8000', not an http"),
        ('{"payments": "ftp://payments"}', "CONTEXTS_REMOTE['payments'] is 'ftp://payments', not an http(s)"),
        ('{"payments": "http://"}', "CONTEXTS_REMOTE['payments'] is 'http://', not an http(s) base URL"),
        ('{"payments": "http://payments:80a"}', "is 'http://payments:80a', not an http"),
        ('{"payments": "http://payments/?v=1"}', "is 'http://payments/?v=1', not an http"),
        ('{"payments": 8000}', "CONTEXTS_REMOTE['payments'] is 8000, not an http(s) base URL"),
        ('{"paymnets": "http://payments"}', "CONTEXTS_REMOTE names 'paymnets', which is not a context"),
        ('["payments"]', "CONTEXTS_REMOTE is a JSON object"),
        ("payments=http://payments", "CONTEXTS_REMOTE is not JSON"),
    ],
)
def test_a_remote_placement_that_cannot_be_is_refused_when_the_settings_load(configured, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        placement.remote_contexts(CONTEXTS, configured=configured)


def test_a_remote_base_url_may_be_https_or_have_a_gateway_s_path():
    configured = '{"payments": "https://payments.internal", "users": "http://gateway:8000/shop/"}'
    assert placement.remote_contexts(CONTEXTS, configured=configured) == json.loads(configured)
    assert placement.remote_contexts(CONTEXTS, configured="{}") == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONTEXTS_REMOTE": '{"payments": "payments:80"}'}, "CONTEXTS_REMOTE['payments'] is 'payments:80'"),
        ({"SERVICE_TOKEN_SECRET": " , "}, "SERVICE_TOKEN_SECRET is empty"),
        ({"SERVICE_TOKEN_TTL_SECONDS": "0"}, "SERVICE_TOKEN_TTL_SECONDS must be 1 or more, not 0"),
    ],
)
def test_a_process_with_settings_that_would_fail_every_internal_call_does_not_start(env, message):
    """Gunicorn and Celery run no system check: what would fail only at the first call to another
    context stops the process at start, with the reason."""
    env = {**process_env("config.settings"), "CONTEXTS_LOCAL": ",".join(MONOLITH), **env}
    env.setdefault("CONTEXTS_REMOTE", json.dumps({"payments": "http://payments:8000"}))
    setup = [sys.executable, "-c", "import django; django.setup()"]
    result = subprocess.run(setup, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr, result.stderr


def test_a_deployment_holding_every_context_keeps_the_integration_queue_others_get_their_own():
    assert placement.integration_queue(CONTEXTS, CONTEXTS) == "integration"
    assert placement.integration_queue(CONTEXTS, SERVICE) == "integration.payments+notifications"
    assert placement.integration_queue(CONTEXTS, MONOLITH) == "integration.users+catalog+orders+shipping"


@pytest.mark.parametrize("local", [CONTEXTS, SERVICE, MONOLITH])
def test_queues_and_routes_send_each_task_to_its_context_s_queue_and_integration_s_to_this_deployment_s(
    local,
):
    own = placement.integration_queue(CONTEXTS, local)
    queues = placement.task_queues(CONTEXTS, local)
    assert [q.name for q in queues] == [own, *local]
    assert all(q.durable and q.exchange.name == q.name == q.routing_key for q in queues)

    app = Celery(set_as_current=False)
    app.conf.update(
        task_queues=queues, task_routes=placement.task_routes(CONTEXTS, local), task_default_queue=own
    )
    route = app.amqp.router.route
    for task in ("integration.purge_idempotency_keys", "integration.sweep_outbox"):
        assert route({}, task)["queue"].name == own
    # A context's task goes to its context's queue even when sent from a deployment that does not hold it.
    for context in CONTEXTS:
        assert route({}, f"{context}.do_something")["queue"].name == context


def test_beat_schedules_only_the_local_contexts_periodic_tasks_and_integration_s():
    full = settings.CELERY_BEAT_SCHEDULE  # every context is local here: the whole schedule
    assert {entry["task"].split(".")[0] for entry in full.values()} == {
        "integration",
        "users",
        "catalog",
        "payments",
        "notifications",
        "orders",
    }
    service = placement.beat_schedule(full, SERVICE)
    assert sorted(service) == [
        "integration.purge_idempotency_keys",
        "integration.purge_webhook_deliveries",
        "integration.sweep_outbox",
        "notifications.send_due",
        "payments.settle_in_doubt",
    ]
    assert service["payments.settle_in_doubt"] == full["payments.settle_in_doubt"]
    monolith = placement.beat_schedule(full, MONOLITH)
    assert not any(entry["task"].startswith(("payments.", "notifications.")) for entry in monolith.values())
    assert "orders.sweep_sagas" in monolith and "integration.sweep_outbox" in monolith


def test_settings_py_derives_a_service_s_queues_schedule_and_embedded_beat_from_contexts_local():
    code = (
        "import django, json; django.setup();"
        "from django.conf import settings; from integration import embedded;"
        "print(json.dumps({'local': settings.CONTEXTS_LOCAL,"
        " 'queues': [q.name for q in settings.CELERY_TASK_QUEUES],"
        " 'default': settings.CELERY_TASK_DEFAULT_QUEUE,"
        " 'routes': settings.CELERY_TASK_ROUTES['integration.*']['queue'],"
        " 'beat': sorted(settings.CELERY_BEAT_SCHEDULE),"
        " 'embedded': sorted(name for name, _ in embedded._schedule()),"
        " 'routers': settings.DATABASE_ROUTERS}))"
    )
    env = {
        **process_env("config.settings"),
        "CONTEXTS_LOCAL": "notifications,payments",
        "CONTEXTS_REMOTE": json.dumps(SERVICE_REMOTE),
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    derived = json.loads(result.stdout.strip().splitlines()[-1])
    own = "integration.payments+notifications"
    assert derived["local"] == SERVICE
    assert derived["queues"] == [own, "payments", "notifications"]
    assert derived["default"] == derived["routes"] == own
    assert derived["beat"] == derived["embedded"]  # the dev server's stand-in for beat runs the same
    assert derived["beat"] == [
        "integration.purge_idempotency_keys",
        "integration.purge_webhook_deliveries",
        "integration.sweep_outbox",
        "notifications.send_due",
        "payments.settle_in_doubt",
    ]
    assert derived["routers"] == ["integration.db.LocalContextsRouter"]


# --- The database router -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_reading_or_writing_a_model_of_a_context_held_elsewhere_raises_and_says_to_call_its_api(as_monolith):
    with pytest.raises(ContextNotLocal) as raised:
        Payment.objects.filter(status="captured").exists()
    message = str(raised.value)
    assert raised.value.context == "payments"
    assert "payments.Payment belongs to the 'payments' context, which is not local" in message
    assert "CONTEXTS_LOCAL: users, catalog, orders, shipping" in message
    assert "Call its api (contexts.payments.api)" in message
    with pytest.raises(ContextNotLocal, match="'payments' context"):
        Payment().save()
    with pytest.raises(ContextNotLocal, match="'notifications' context"):
        list(Notification.objects.all()[:1])
    assert Order.objects.count() == 0  # the monolith's own contexts are read as ever


@pytest.mark.django_db
def test_the_user_model_stays_usable_where_users_is_not_local(as_service):
    """Django's auth, admin and sessions need it in every database: there it holds the operators."""
    user = get_user_model().objects.create_superuser(email="operator@example.com", password="x-Good-passw0rd")
    assert get_user_model().objects.get(pk=user.pk).is_superuser
    assert list(user.groups.all()) == [] and list(user.user_permissions.all()) == []
    with pytest.raises(ContextNotLocal):
        Order.objects.exists()


def test_migrations_of_a_context_held_elsewhere_are_not_run(as_monolith):
    assert router.allow_migrate("default", "payments", model_name="payment") is False
    assert router.allow_migrate("default", "notifications") is False  # a data migration's RunPython
    assert router.allow_migrate_model("default", Order) is True
    assert router.allow_migrate_model("default", LogEntry) is True
    as_monolith.CONTEXTS_LOCAL = SERVICE
    assert router.allow_migrate_model("default", Order) is False
    # The user's table (and its group and permission tables, created with it) is everywhere.
    assert router.allow_migrate_model("default", get_user_model()) is True
    assert router.allow_migrate_model("default", get_user_model().groups.through) is True
    assert router.allow_migrate("default", "users") is False  # users' data migrations: users' rows


def test_no_migration_depends_on_a_context_other_than_its_own_but_the_user_model_s():
    """So a deployment can migrate its own contexts without another's: no cross-context foreign key
    exists; only Django's apps depend on the user model's (users, which is everywhere: integration.db)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    user_app = settings.AUTH_USER_MODEL.split(".")[0]
    for (app, name), migration in loader.disk_migrations.items():
        for other, _ in [*migration.dependencies, *migration.run_before]:
            if other == app or other not in CONTEXTS:
                continue
            assert other == user_app and app not in CONTEXTS, f"{app}.{name} depends on {other}"


@pytest.mark.django_db
def test_deleting_a_user_collects_nothing_of_the_contexts_held_elsewhere(as_monolith, admin_client):
    user = get_user_model().objects.create_user(email="leaving@example.com", password="x-Good-passw0rd")
    RefreshToken.for_user(user)  # an outstanding token row, deleted with the user
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Payment),  # a log line about an extracted model
        object_id="1",
        object_repr="payment",
        action_flag=ADDITION,
    )
    confirm = admin_client.get(f"/admin/users/user/{user.pk}/delete/")
    assert confirm.status_code == 200  # the admin's collector lists what would go
    assert admin_client.post(f"/admin/users/user/{user.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not LogEntry.objects.filter(user_id=user.pk).exists()


# --- The admin -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_only_the_contexts_this_deployment_holds(as_monolith, admin_user):
    site = AdminSite(name="placement")
    site._registry = dict(admin.site._registry)  # every app's models, as this process registered them
    gone = admin_unregister_non_local(site)
    assert gone and {label.split(".")[0] for label in gone} == {"payments", "notifications"}
    assert "payments.Payment" in gone and "notifications.Template" in gone
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    listed = {app["app_label"] for app in site.get_app_list(request)}
    assert {"orders", "catalog", "shipping", "users", "integration", "auth"} <= listed
    assert not listed & {"payments", "notifications"}
    # This process holds every context: its own admin site lost nothing at start-up.
    assert any(model._meta.app_label == "payments" for model in admin.site._registry)


# --- The checks -----------------------------------------------------------------------------------------


def _placement_errors() -> list[str]:
    found = checks.context_placement(None)
    assert all(e.id == "integration.E008" for e in found)
    return [e.msg for e in found]


def test_a_consistent_placement_passes_the_checks(as_service):
    assert _placement_errors() == []
    as_service.CONTEXTS_LOCAL, as_service.CONTEXTS_REMOTE = MONOLITH, {"payments": "http://payments:8000"}
    assert _placement_errors() == []


@pytest.mark.parametrize(
    ("local", "remote", "message"),
    [
        (["payments", "nowhere"], SERVICE_REMOTE, "CONTEXTS_LOCAL names 'nowhere', which is not a context"),
        (
            ["payments", "notifications", "users"],
            SERVICE_REMOTE,
            "'users' is both local (CONTEXTS_LOCAL) and remote",
        ),
        (
            SERVICE,
            {"users": "http://shop:8000"},
            "'catalog' has an api but is neither local (CONTEXTS_LOCAL) nor remote",
        ),
        (MONOLITH, {}, "'payments' has an api but is neither local"),
    ],
)
def test_the_checks_refuse_a_placement_that_cannot_work(settings, local, remote, message):
    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq"}
    settings.CONTEXTS_LOCAL, settings.CONTEXTS_REMOTE = local, remote
    assert any(message in error for error in _placement_errors()), _placement_errors()


def test_the_checks_refuse_serving_a_context_held_elsewhere_and_the_celery_transport_across_deployments(
    as_service,
):
    as_service.CONTEXTS_SERVED = ["payments", "catalog"]
    assert "CONTEXTS_SERVED names 'catalog', which is not local (CONTEXTS_LOCAL)" in _placement_errors()
    as_service.CONTEXTS_SERVED = None
    as_service.BUS = {**as_service.BUS, "TRANSPORT": "celery"}
    (error,) = _placement_errors()
    assert (
        "does not hold users, catalog, orders, shipping (CONTEXTS_LOCAL) but BUS_TRANSPORT is 'celery'"
        in error
    )


# --- What else follows: /internal/, the event consumer ------------------------------------------------


def test_the_api_served_at_internal_defaults_to_the_local_contexts(settings, as_service):
    # The probe context (tests.remoteapp) is no bounded context: it is everywhere.
    assert sorted(remote.served_contexts()) == ["payments", "probe"]
    settings.CONTEXTS_LOCAL, settings.CONTEXTS_REMOTE = CONTEXTS, {}
    assert sorted(remote.served_contexts()) == ["catalog", "payments", "probe", "shipping", "users"]
    settings.CONTEXTS_SERVED = ["payments"]
    assert remote.served_contexts() == ["payments"]


def test_the_event_consumer_runs_the_local_contexts_handlers_unless_told_otherwise(as_service, monkeypatch):
    consumed = []

    class Consumer:
        def __init__(self, subscriptions):
            consumed.append(sorted(s.name for s in subscriptions))

        def run(self, *, stop):
            return None

    monkeypatch.setattr(rabbitmq, "EventConsumer", Consumer)
    monkeypatch.setattr(rabbitmq, "install_stop_signals", lambda stop: None)
    call_command("consume_events", stdout=io.StringIO())
    call_command("consume_events", "--contexts", "orders", stdout=io.StringIO())
    by_default, orders = consumed
    assert by_default and all(name.startswith(("payments.", "notifications.")) for name in by_default)
    assert "notifications.on_order_confirmed" in by_default
    assert orders and all(name.startswith("orders.") for name in orders)


@pytest.mark.django_db
def test_demo_data_is_loaded_only_for_the_local_contexts(as_service, settings):
    call_command(
        "seed_demo", "--force", stdout=io.StringIO()
    )  # users' and catalog's demos are the monolith's
    assert not get_user_model().objects.filter(email=settings.DEMO_ADMIN_EMAIL).exists()
    settings.CONTEXTS_LOCAL = CONTEXTS
    call_command("seed_demo", "--force", stdout=io.StringIO())
    assert get_user_model().objects.filter(email=settings.DEMO_ADMIN_EMAIL).exists()


# --- A fresh database migrated by a monolith that extracted payments and notifications -------------------


@pytest.mark.slow
def test_a_monolith_s_fresh_database_gets_no_table_of_the_contexts_it_extracted():
    name = f"{connection.settings_dict['NAME']}_placement"
    url = f"{database_url().rsplit('/', 1)[0]}/{name}"
    env = process_env(
        "config.settings",
        extra={
            "DATABASE_URL": url,
            "CONTEXTS_LOCAL": ",".join(MONOLITH),
            "CONTEXTS_REMOTE": json.dumps({"payments": "http://payments:8000"}),
            "BUS_TRANSPORT": "rabbitmq",
        },
    )
    # A connection of its own to the server's maintenance database (autocommit, for CREATE DATABASE).
    server = f"{database_url().rsplit('/', 1)[0]}/postgres".replace("postgres://", "postgresql://", 1)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        for command in (["migrate", "--noinput", "-v0"], ["check", "--fail-level", "WARNING"]):
            result = subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            }
        assert {"orders_order", "catalog_product", "shipping_shipment", "users_user"} <= tables
        assert {"integration_outboxmessage", "integration_idempotencykey", "django_admin_log"} <= tables
        assert not [t for t in tables if t.startswith(("payments_", "notifications_"))], sorted(tables)

        # The process fails instead of reading an empty or missing payments table.
        read = "from contexts.payments.models import Payment; Payment.objects.count()"
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", read],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0
        assert "ContextNotLocal" in result.stderr and "Call its api (contexts.payments.api)" in result.stderr
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Refused at start by the processes that run no system check -----------------------------------------

UNWORKABLE = {
    "CONTEXTS_LOCAL": ",".join(SERVICE),
    "CONTEXTS_REMOTE": json.dumps({"users": "http://shop:8000"}),  # catalog and shipping are nowhere
    "BUS_TRANSPORT": "rabbitmq",
}
NOWHERE = "'catalog' has an api but is neither local (CONTEXTS_LOCAL) nor remote"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([sys.executable, "-c", "import config.wsgi"], id="web (gunicorn imports config.wsgi)"),
        pytest.param(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1"],
            id="celery worker",
        ),
        # Beat opens its schedule (a shelve: it replaces whatever file is there) before it refuses.
        pytest.param(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule={tmp}/celerybeat-schedule"],
            id="beat",
        ),
    ],
)
def test_a_process_that_runs_no_system_check_refuses_an_unworkable_placement_at_start(argv, tmp_path):
    env = {**process_env("config.settings"), **UNWORKABLE}
    env.pop("CELERY_SKIP_CHECKS", None)
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ImproperlyConfigured: The settings cannot work" in result.stderr, result.stderr[-3000:]
    assert NOWHERE in result.stderr


def test_a_workable_placement_starts(as_service):
    checks.refuse_to_start_unworkable()  # the service's settings, as the split runs them: nothing raised
    as_service.CONTEXTS_REMOTE = {"users": "http://shop:8000"}
    with pytest.raises(ImproperlyConfigured, match=re.escape(NOWHERE)):
        checks.refuse_to_start_unworkable()
