"""The manifests against the code: every command is one the project runs (as the Makefile runs it), every
variable one config/settings.py reads, the probes reach the health views with a Host the side allows,
each side's settings pass the project's own deploy checks in the image's files, and the split gives
every context to exactly one side, as tests/split runs it."""

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.test import Client, override_settings
from django.urls import resolve

from integration import placement
from integration.edge import health
from tests.deploy.manifests import (
    DEPLOY,
    ROOT,
    dockerfile,
    makefile_command,
    manage,
    pod_spec,
    process_env,
    read_env_file,
    settings_env_names,
    side_settings,
)

SETTINGS_NAMES = settings_env_names()


@pytest.fixture(scope="session")
def settings_of(image):
    """The settings a pod of a side runs with (config.settings under the side's environment)."""
    cache = {}

    def load(side):
        key = json.dumps(side.env, sort_keys=True)
        if key not in cache:
            cache[key] = side_settings(image, side.env)
        return cache[key]

    return load


def container(side, kind, component):
    (found,) = pod_spec(side.one(kind, component))["containers"]
    return found


# --- Settings ------------------------------------------------------------------------------------------


def test_the_settings_reader_finds_what_settings_read():
    assert {"DATABASE_URL", "SECRET_KEY", "SERVICE_TOKEN_SECRET", "CONTEXTS_REMOTE", "CONTEXTS_LOCAL"} <= (
        SETTINGS_NAMES
    )
    assert "DJANGO_SETTINGS_MODULE" not in SETTINGS_NAMES


def test_every_variable_the_manifests_set_is_a_setting(side):
    unknown = set(side.env) - SETTINGS_NAMES
    assert not unknown, f"not read by config/settings.py: {sorted(unknown)}"


def test_each_sides_settings_pass_the_projects_deploy_checks(side, image):
    out = manage(image, side.env, "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_the_examples_placeholders_are_refused(rendered_sides, image):
    """An operator who applies a secrets.env copied unchanged gets processes that do not start, and a
    `check --deploy` that names each placeholder left."""
    side = rendered_sides["monolith"]["shop"]
    example = read_env_file(DEPLOY / "overlays/monolith/secrets.env.example")
    unchanged = {**example, **side.config()}
    out = manage(image, unchanged, "check", "--deploy")
    assert out.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in out.stderr

    keys_only = {
        **unchanged,
        "SECRET_KEY": side.env["SECRET_KEY"],
        "JWT_SIGNING_KEY": side.env["JWT_SIGNING_KEY"],
    }
    out = manage(image, keys_only, "check", "--deploy")
    assert out.returncode != 0
    for refused in ("PAYMENTS_WEBHOOK_SECRET", "SHIPPING_WEBHOOK_SECRET"):
        assert f"integration.E003) {refused} is the public development secret" in out.stderr
    assert "integration.E005" in out.stderr


# --- Commands ------------------------------------------------------------------------------------------


def test_web_runs_gunicorn_as_make_web_does(side):
    from gunicorn.config import Config

    parser = Config().parser()
    web = container(side, "Deployment", "web")
    assert web["command"][0] == "gunicorn"
    ours = vars(parser.parse_args(web["command"][1:]))
    make = vars(parser.parse_args(makefile_command("web", "gunicorn")[1:]))
    # Where it listens and how many workers differ by design (all interfaces; sized to the limits).
    assert ours.pop("bind") == ["0.0.0.0:8000"]
    assert ours.pop("workers") >= 1
    make.pop("bind"), make.pop("workers")
    assert ours == make
    (port,) = web["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8000)


@pytest.mark.parametrize("component", ["worker", "beat"])
def test_celery_runs_as_the_makefile_runs_it(side, component, image):
    argv = container(side, "Deployment", component)["command"]
    make = makefile_command(component, "celery")
    assert argv[:4] == make[:4] == ["celery", "-A", "config", component]

    def options(args):
        return dict(a.split("=", 1) if "=" in a else (a, "") for a in args[4:])

    ours, theirs = options(argv), options(make)
    assert ours.keys() == theirs.keys()
    # The pool's size and the schedule file's place are the deployment's; the rest is the Makefile's.
    assert {k: v for k, v in ours.items() if k not in ("--concurrency", "--schedule")} == {
        k: v for k, v in theirs.items() if k not in ("--concurrency", "--schedule")
    }
    # Celery itself accepts these options (an unknown one is a usage error before --help is served).
    out = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), *argv[1:], "--help"],
        cwd=image,
        env=process_env(side.env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("kind", "component"), [("Job", "migrate"), ("Deployment", "relay"), ("Deployment", "consumer")]
)
def test_manage_py_commands_exist_and_accept_their_arguments(side, kind, component):
    argv = container(side, kind, component)["command"]
    assert argv[:2] == ["python", "manage.py"]
    name, *args = argv[2:]
    app = get_commands()[name]
    load_command_class(app, name).create_parser("manage.py", name).parse_args(args)
    if component == "migrate":
        assert argv == makefile_command("migrate", "python")


def test_the_migrate_job_refuses_a_release_that_fails_the_deploy_checks(side, image):
    """Its init container runs `check --deploy` first: settings that keep a dev-only secret migrate
    nothing (the processes themselves refuse only SECRET_KEY's)."""
    (init,) = pod_spec(side.one("Job", "migrate"))["initContainers"]
    assert init["command"] == ["python", "manage.py", "check", "--deploy", "--fail-level", "ERROR"]
    assert init["envFrom"] == container(side, "Job", "migrate")["envFrom"]
    dev_only = {**side.env, "SERVICE_TOKEN_SECRET": "dev-only-service-token-secret"}
    out = manage(image, dev_only, *init["command"][2:])
    assert out.returncode != 0 and "SERVICE_TOKEN_SECRET" in out.stderr, out.stderr
    assert manage(image, side.env, *init["command"][2:]).returncode == 0


def test_no_process_is_told_its_contexts_on_the_command_line(side):
    """Which contexts a side's worker, consumer and beat serve follows from CONTEXTS_LOCAL, so the
    three cannot disagree (README, Extracting a context)."""
    for workload, c in side.containers():
        for arg in c["command"]:
            assert arg.split("=")[0] not in ("-Q", "--queues", "--contexts", "--handlers"), workload[
                "metadata"
            ]


def test_the_programs_come_from_the_runtime_requirements():
    pinned = {
        line.split("==")[0].split("[")[0].lower()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    }
    scripts = {ep.name: ep.dist.name.lower() for ep in entry_points(group="console_scripts")}
    for program in ("gunicorn", "celery"):
        assert scripts[program] in pinned, program


# --- Probes --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_probes_reach_the_health_views_with_a_host_the_side_allows(side):
    web = container(side, "Deployment", "web")
    allowed = side.env["ALLOWED_HOSTS"].split(",")
    for probe, view, answers in [
        ("startupProbe", health.health, {200}),
        ("livenessProbe", health.health, {200}),
        ("readinessProbe", health.ready, {200, 503}),
    ]:
        get = web[probe]["httpGet"]
        assert get["port"] == web["ports"][0]["name"], probe
        assert resolve(get["path"], urlconf="config.urls").func is view, probe
        host = {h["name"]: h["value"] for h in get["httpHeaders"]}["Host"]
        assert host in allowed, probe
        with override_settings(ROOT_URLCONF="config.urls", ALLOWED_HOSTS=allowed, SECURE_SSL_REDIRECT=True):
            response = Client().get(get["path"], HTTP_HOST=host)
            # The kubelet's own Host would be the pod's IP, which no ALLOWED_HOSTS lists.
            assert Client().get(get["path"], HTTP_HOST="10.1.2.3:8000").status_code == 400
        assert response.status_code in answers, (probe, response.status_code, response.content[:200])


def test_the_readiness_probe_waits_longer_than_a_hung_remote_context(side, settings_of):
    """/ready asks each remote context once (connect and read timeouts) and reports it degraded: a
    probe that gave up sooner would take the pod out of rotation instead."""
    conf = settings_of(side)
    probe = container(side, "Deployment", "web")["readinessProbe"]
    for context in conf["CONTEXTS_REMOTE"]:
        dependency = {
            **conf["RESILIENCE"]["DEFAULTS"],
            **conf["RESILIENCE"]["DEPENDENCIES"].get(f"context-{context}", {}),
        }
        assert probe["timeoutSeconds"] > dependency["connect_timeout"] + dependency["read_timeout"]


# --- Shutdown ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", ["worker", "consumer"])
def test_a_stopping_worker_has_time_to_finish_what_it_runs(side, settings_of, component):
    """No task time limit is set; what bounds a task or a handler is its outbound calls: attempts x
    (connect + read timeout) plus the pauses between them, per dependency, and EMAIL_TIMEOUT."""
    conf = settings_of(side)
    defaults = conf["RESILIENCE"]["DEFAULTS"]
    longest = [conf["EMAIL_TIMEOUT"], conf["CELERY_TASK_TIME_LIMIT"] or 0]
    for override in [{}, *conf["RESILIENCE"]["DEPENDENCIES"].values()]:
        d = {**defaults, **override}
        pause = max(d["backoff_max"], d["retry_after_cap"])
        longest.append(
            d["max_attempts"] * (d["connect_timeout"] + d["read_timeout"]) + (d["max_attempts"] - 1) * pause
        )
    grace = pod_spec(side.one("Deployment", component))["terminationGracePeriodSeconds"]
    assert grace >= max(longest)


# --- The split -----------------------------------------------------------------------------------------


def test_the_monolith_holds_every_context(rendered_sides, settings_of):
    side = rendered_sides["monolith"]["shop"]
    assert "CONTEXTS_REMOTE" not in side.env and "CONTEXTS_LOCAL" not in side.env
    assert settings_of(side)["CONTEXTS_REMOTE"] == {}


def test_the_split_gives_every_context_to_one_side_as_the_split_tests_run_it(rendered_sides, settings_of):
    from tests.split.topology import EXTRACTED, MONOLITH_CONTEXTS

    split = rendered_sides["extracted-payments"]
    local = {name: set(side.env["CONTEXTS_LOCAL"].split(",")) for name, side in split.items()}
    assert local == {"shop": set(MONOLITH_CONTEXTS), "payments": set(EXTRACTED)}
    assert local["shop"] | local["payments"] == {app.rsplit(".", 1)[1] for app in settings.CONTEXT_APPS}
    assert not local["shop"] & local["payments"]
    for name, side in split.items():
        (other,) = set(split) - {name}
        conf = settings_of(side)
        remote = set(conf["CONTEXTS_REMOTE"])
        # What a side calls lives on the other side, which serves it; a side serves only its own.
        assert remote <= local[other]
        assert remote <= set(settings_of(split[other])["SERVED"])
        assert set(conf["SERVED"]) <= local[name]


@pytest.mark.parametrize("instance", ["shop", "payments"])
def test_each_side_runs_only_its_own_contexts(rendered_sides, settings_of, instance):
    side = rendered_sides["extracted-payments"][instance]
    conf = settings_of(side)
    local = set(side.env["CONTEXTS_LOCAL"].split(","))
    assert set(conf["CONTEXTS_LOCAL"]) == local
    # Beat sends a side's periodic tasks only for the contexts whose tables it holds.
    assert {task.split(".")[0] for task in conf["BEAT_TASKS"]} <= local | {"integration"}
    # Its worker (no -Q) consumes its contexts' queues and its own integration queue, no other.
    contexts = [app.rsplit(".", 1)[1] for app in settings.CONTEXT_APPS]
    assert set(conf["QUEUES"]) == local | {placement.integration_queue(contexts, sorted(local))}


# --- The image -----------------------------------------------------------------------------------------


def test_the_image_is_python_3_11_slim_with_the_runtime_requirements_only():
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [args for instruction, args in instructions if instruction == "RUN"]
    assert any("pip install -r requirements.txt" in run for run in runs)
    assert "requirements-dev" not in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert any("manage.py collectstatic --noinput" in run for run in runs)


def test_the_images_default_command_is_the_web_process(rendered_sides):
    (cmd,) = [json.loads(args) for instruction, args in dockerfile() if instruction == "CMD"]
    assert cmd == container(rendered_sides["monolith"]["shop"], "Deployment", "web")["command"]


def test_the_pods_run_as_the_images_user(side):
    (user,) = [args for instruction, args in dockerfile() if instruction == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0
    for workload in side.workloads():
        context = pod_spec(workload)["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), workload["metadata"]["name"]


def test_static_files_are_collected_at_build_time_without_settings(image):
    """The build runs collectstatic with no database, secret or other setting, into the image."""
    out = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=image,
        env=process_env({}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert (image / "staticfiles" / "admin" / "css" / "base.css").exists()
    assert (image / "staticfiles" / "drf_spectacular_sidecar").is_dir()
