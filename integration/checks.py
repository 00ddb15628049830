"""Deploy checks of the project's own: production needs the shared services, not the embedded ones."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from integration import placement, services, webhooks
from integration.services import auth, remote


@checks.register(checks.Tags.caches, deploy=True)
def shared_services(app_configs, **kwargs):
    problems = []
    if not settings.CACHE_IS_SHARED:
        problems.append(
            checks.Error(
                "The cache is local to each process.",
                hint="Set CACHE_URL to Redis: rate limits and the token denylist must be shared.",
                id="integration.E001",
            )
        )
    if settings.SECRET_KEY.startswith("dev-only-") or settings.SIMPLE_JWT["SIGNING_KEY"].startswith(
        "dev-only-"
    ):
        problems.append(
            checks.Error(
                "SECRET_KEY (or JWT_SIGNING_KEY) is the public development key: anyone could sign tokens.",
                hint="Set SECRET_KEY (and JWT_SIGNING_KEY) from a secret store; never run with the default.",
                id="integration.E002",
            )
        )
    # Every context's webhook secrets (PAYMENTS_WEBHOOK_SECRET, SHIPPING_WEBHOOK_SECRET...): the embedded
    # default's are public, so anyone could forge a provider's callback.
    for name in sorted(n for n in dir(settings) if n.endswith("_WEBHOOK_SECRET")):
        configured = webhooks.secret_list(getattr(settings, name))
        if not configured:
            problems.append(
                checks.Error(
                    f"{name} is empty: every webhook delivery would be refused.",
                    hint=f"Set {name} to the secret the sender signs with.",
                    id="integration.E004",
                )
            )
        elif any(len(s) < 16 for s in configured):
            problems.append(
                checks.Warning(
                    f"{name} holds a secret shorter than 16 characters: it can be guessed.",
                    hint="Use the secret the sender generated: providers issue 32 random characters or more.",
                    id="integration.W003",
                )
            )
        if any(s.startswith("dev-only-") for s in configured):
            problems.append(
                checks.Error(
                    f"{name} is the public development secret: anyone could forge webhooks.",
                    hint=f"Set {name} to the secret the sender signs with (comma-separated while rotating).",
                    id="integration.E003",
                )
            )
    service_secrets = auth.secrets()
    if not service_secrets or any(s.startswith("dev-only-") for s in service_secrets):
        problems.append(
            checks.Error(
                "SERVICE_TOKEN_SECRET is empty or the public development secret: anyone could call "
                "the internal endpoints of every context.",
                hint="Set SERVICE_TOKEN_SECRET to one random secret shared by the deployment's processes "
                "(comma-separated while rotating: the first signs).",
                id="integration.E005",
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append(
            checks.Warning(
                "No Celery broker is configured: tasks and event deliveries run inside web requests.",
                hint="Set CELERY_BROKER_URL to RabbitMQ (or Redis) and run workers and one beat.",
                id="integration.W001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append(
            checks.Warning(
                "The database is SQLite.",
                hint="Set DATABASE_URL to PostgreSQL: row locks (SELECT ... FOR UPDATE) protect stock.",
                id="integration.W002",
            )
        )
    return problems


@checks.register()
def extracted_contexts(app_configs, **kwargs):
    """CONTEXTS_REMOTE, CONTEXTS_SERVED and CONTEXTS_READY_REQUIRED name known contexts, consistently."""
    problems = []
    known = set(services.contexts())
    configured = getattr(settings, "CONTEXTS_REMOTE", None) or {}
    if not isinstance(configured, dict):
        configured = {}
        problems.append(checks.Error("CONTEXTS_REMOTE is a JSON object", id="integration.E006"))
    served = set(remote.served_contexts())
    for context, url in sorted(configured.items()):
        if context not in known:
            problems.append(
                checks.Error(f"CONTEXTS_REMOTE names {context!r}, which has no api", id="integration.E006")
            )
        if problem := placement.base_url_problem(context, url):
            problems.append(checks.Error(problem, id="integration.E006"))
        if context in served:
            problems.append(
                checks.Error(
                    f"{context!r} is both served here (CONTEXTS_SERVED) and remote (CONTEXTS_REMOTE)",
                    id="integration.E006",
                )
            )
    for context in sorted(served - known):
        problems.append(
            checks.Error(f"CONTEXTS_SERVED names {context!r}, which has no api", id="integration.E006")
        )
    for context in sorted(set(remote.ready_required()) - set(configured)):
        problems.append(
            checks.Error(
                f"CONTEXTS_READY_REQUIRED names {context!r}, which is not in CONTEXTS_REMOTE",
                id="integration.E006",
            )
        )
    return problems


@checks.register()
def context_placement(app_configs, **kwargs):
    """CONTEXTS_LOCAL names real contexts, none also remote; every context with an api is local or
    remote; only local contexts are served; and a deployment that holds only some contexts sends its
    events through RabbitMQ (the Celery transport hands each delivery to a worker of the subscriber's
    queue, which would look the delivery up in its own deployment's database)."""
    urls = remote.remote_contexts()
    problems = [
        checks.Error(problem, id="integration.E008")
        for problem in placement.problems(
            contexts=settings.CONTEXTS, local=settings.CONTEXTS_LOCAL, remote=urls
        )
    ]
    for context in services.contexts():
        if not placement.is_local(context) and context not in urls:
            problems.append(
                checks.Error(
                    f"{context!r} has an api but is neither local (CONTEXTS_LOCAL) nor remote "
                    "(CONTEXTS_REMOTE): a call to it would run here, against tables this deployment "
                    "does not have.",
                    hint=f"Add {context!r} to CONTEXTS_REMOTE with the base URL of the deployment that "
                    "holds it (or to CONTEXTS_LOCAL if this one does).",
                    id="integration.E008",
                )
            )
    for context in remote.served_contexts():
        if not placement.is_local(context):
            problems.append(
                checks.Error(
                    f"CONTEXTS_SERVED names {context!r}, which is not local (CONTEXTS_LOCAL)",
                    id="integration.E008",
                )
            )
    not_here = [context for context in settings.CONTEXTS if not placement.is_local(context)]
    if not_here and settings.BUS["TRANSPORT"] != "rabbitmq":
        problems.append(
            checks.Error(
                f"This deployment does not hold {', '.join(not_here)} (CONTEXTS_LOCAL) but BUS_TRANSPORT is "
                f"{settings.BUS['TRANSPORT']!r}: events would be handed to another deployment's workers "
                "by ids of this deployment's database.",
                hint="Set BUS_TRANSPORT=rabbitmq on every process of every deployment.",
                id="integration.E008",
            )
        )
    return problems


@checks.register()
def event_transport(app_configs, **kwargs):
    """The RabbitMQ event transport needs an AMQP broker: the embedded default's in-memory one has none."""
    if settings.BUS["TRANSPORT"] != "rabbitmq":
        return []
    url = settings.BUS["BROKER_URL"] or settings.CELERY_BROKER_URL
    if url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp"):
        return []
    return [
        checks.Error(
            f"BUS_TRANSPORT is 'rabbitmq' but the events' broker is {url.split('://', 1)[0]}://, not AMQP.",
            hint="Set BUS_BROKER_URL (or CELERY_BROKER_URL) to amqp://user:password@host:5672/vhost.",
            id="integration.E007",
        )
    ]


# The checks a process cannot run correctly without: where each context is, and the event broker.
START_CHECKS = (extracted_contexts, context_placement, event_transport)


def refuse_to_start_unworkable() -> None:
    """Raise ImproperlyConfigured, naming every problem, when the settings fail one of START_CHECKS.

    `manage.py` commands run the system checks before they start; gunicorn and Celery's worker and beat
    do not (Celery runs them and ignores the result), so a misplaced context would only fail at its
    first call or task. config.wsgi and integration.worker call this at start-up."""
    errors = [error for check in START_CHECKS for error in check(None)]
    if errors:
        raise ImproperlyConfigured(
            "The settings cannot work: "
            + "; ".join(
                f"{error.msg} ({error.id})" + (f" {error.hint}" if error.hint else "") for error in errors
            )
        )
