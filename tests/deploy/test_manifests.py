"""The Kubernetes manifests as Kubernetes reads them: each overlay renders with Kustomize, every object is
valid against the API's OpenAPI schemas, and the shape operators rely on holds (scaling, disruption,
shutdown, security, one side never selecting the other's pods, the monolith updated in place)."""

import json
import re
import shlex
import subprocess
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from tests.deploy.conftest import SIDES
from tests.deploy.manifests import (
    COMPONENT,
    DEPLOY,
    INSTANCE,
    PLACEHOLDER,
    ROOT,
    pod_spec,
    read_env_file,
    secret_examples,
    selects,
)

# The oldest Kubernetes the manifests are written for, and the newest whose schemas the validator has.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.latest_version()]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", ["base", "monolith", "extracted-payments"])
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(rendered, overlay, version):
    problems = []
    for obj in rendered[overlay]:
        try:
            # strict: a misspelt or misplaced field is an error, not silently ignored by the API server.
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_overlays_render_the_processes_each_side_runs(rendered_sides):
    expected = {("Deployment", c) for c in ("web", "worker", "beat", "relay", "consumer")} | {
        ("Job", "migrate"),
        ("Service", "web"),
        ("PodDisruptionBudget", "web"),
    }
    expected |= {("HorizontalPodAutoscaler", "web")}
    assert set(rendered_sides["monolith"]) == {"shop"}
    assert set(rendered_sides["extracted-payments"]) == {"shop", "payments"}
    for overlay, instance in SIDES:
        side = rendered_sides[overlay][instance]
        found = {(o["kind"], o["metadata"]["labels"][COMPONENT]) for o in side.objects}
        assert expected <= found, f"{overlay}/{instance} lacks {expected - found}"


def test_every_object_is_labelled_with_its_side_and_component(rendered):
    """The README's rollout applies parts of an overlay by these labels (kubectl apply -l)."""
    for overlay in ("monolith", "extracted-payments"):
        for obj in rendered[overlay]:
            labels = obj["metadata"].get("labels", {})
            assert labels.get(INSTANCE) in ("shop", "payments"), obj["metadata"]["name"]
            assert labels.get(COMPONENT), obj["metadata"]["name"]
            assert labels.get("app.kubernetes.io/name") == "shop", obj["metadata"]["name"]
            assert obj["metadata"].get("namespace") == "shop", obj["metadata"]["name"]


def test_extracting_updates_the_monoliths_objects_in_place(rendered_sides):
    """Moving from overlays/monolith to overlays/extracted-payments must not rename or reselect the
    monolith's objects: a Deployment's selector cannot change, and a new name would leave the old
    processes running beside the new ones."""
    before = rendered_sides["monolith"]["shop"]
    after = rendered_sides["extracted-payments"]["shop"]

    def shape(side):
        return {
            (o["kind"], o["metadata"]["name"]): json.dumps(o["spec"].get("selector"), sort_keys=True)
            for o in side.objects
            if o["kind"] not in ("ConfigMap", "Secret")  # generated: their hash is meant to change
        }

    assert shape(before) == shape(after)
    changed = {k: v for k, v in after.config().items() if before.config().get(k) != v}
    assert changed == {
        "CONTEXTS_LOCAL": "users,catalog,orders,shipping",
        "CONTEXTS_REMOTE": '{"payments": "http://payments:8000"}',
    }


@pytest.mark.parametrize("overlay", ["monolith", "extracted-payments"])
def test_no_selector_reaches_the_pods_of_another_component_or_side(rendered, overlay):
    objects = rendered[overlay]
    pods = [
        (o["metadata"]["labels"][INSTANCE], o["spec"]["template"]["metadata"]["labels"])
        for o in objects
        if o["kind"] in ("Deployment", "Job")
    ]
    for obj in objects:
        if obj["kind"] in ("Deployment", "Service", "PodDisruptionBudget"):
            selector = obj["spec"]["selector"]
            component = obj["metadata"]["labels"][COMPONENT]
            instance = obj["metadata"]["labels"][INSTANCE]
            chosen = [labels for side, labels in pods if selects(selector, labels)]
            assert chosen, f"{obj['kind']} {obj['metadata']['name']} selects no pod"
            for labels in chosen:
                assert (labels[INSTANCE], labels[COMPONENT]) == (instance, component), obj["metadata"]
        if obj["kind"] == "NetworkPolicy":
            instance = obj["metadata"]["labels"][INSTANCE]
            for side, labels in pods:
                if selects(obj["spec"]["podSelector"], labels):
                    assert side == instance, obj["metadata"]["name"]


def test_every_process_of_both_sides_runs_the_one_image(rendered):
    images = {
        c["image"]
        for obj in rendered["extracted-payments"]
        if obj["kind"] in ("Deployment", "Job")
        for c in pod_spec(obj)["containers"]
    }
    assert len(images) == 1, images


def test_web_is_scaled_by_its_autoscaler_and_keeps_a_pod_through_disruptions(side):
    web = side.one("Deployment", "web")
    hpa = side.one("HorizontalPodAutoscaler", "web")
    pdb = side.one("PodDisruptionBudget", "web")
    # An apply must not reset what the autoscaler chose.
    assert "replicas" not in web["spec"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", web["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    assert any(m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
    # A utilization target needs a CPU request to be a percentage of.
    assert pod_spec(web)["containers"][0]["resources"]["requests"]["cpu"]
    assert selects(pdb["spec"]["selector"], web["spec"]["template"]["metadata"]["labels"])
    # A node drain can always evict one pod: the budget leaves room below the autoscaler's minimum.
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_exactly_one_beat_never_two_at_once(side):
    beat = side.one("Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    autoscaled = [h["spec"]["scaleTargetRef"]["name"] for h in side.of_kind("HorizontalPodAutoscaler")]
    assert beat["metadata"]["name"] not in autoscaled


def test_every_container_has_requests_and_limits(side):
    units = {"m": 0.001, "Mi": 2**20, "Gi": 2**30}

    def quantity(value: str) -> float:
        for suffix, factor in units.items():
            if str(value).endswith(suffix):
                return float(str(value)[: -len(suffix)]) * factor
        return float(value)

    for workload, container in side.containers():
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request, limit = resources["requests"][resource], resources["limits"][resource]
            assert quantity(request) <= quantity(limit), (workload["metadata"]["name"], resource)


def test_every_pod_runs_as_the_images_non_root_user_on_a_read_only_root(side):
    for workload, container in side.containers():
        pod = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        # Temporary files (gunicorn's worker heartbeats, Python's tempfile, beat's schedule) go to /tmp,
        # the one writable place: an emptyDir.
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_beat_keeps_its_schedule_file_on_the_writable_volume(side):
    beat = side.one("Deployment", "beat")
    (container,) = pod_spec(beat)["containers"]
    (schedule,) = [a.split("=", 1)[1] for a in container["command"] if a.startswith("--schedule=")]
    writable = [m["mountPath"] for m in container["volumeMounts"]]
    assert any(schedule.startswith(path.rstrip("/") + "/") for path in writable), schedule


def test_web_outlasts_its_requests_in_flight_when_stopped(side):
    from gunicorn.config import Config

    web = side.one("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    graceful = (
        Config().parser().parse_args(container["command"][1:]).graceful_timeout or Config().graceful_timeout
    )
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod_spec(web)["terminationGracePeriodSeconds"] > pause + graceful


def test_every_process_of_a_side_reads_the_same_settings(side):
    """Every process of a side must agree (BUS_TRANSPORT, the contexts, the secrets): all of them take
    their environment from the side's one ConfigMap and one Secret, and nothing else."""
    (config_map,) = side.of_kind("ConfigMap")
    (secret,) = side.of_kind("Secret")
    for workload, container in side.containers():
        refs = [
            ("ConfigMap", s["configMapRef"]["name"])
            if "configMapRef" in s
            else ("Secret", s["secretRef"]["name"])
            for s in container["envFrom"]
        ]
        assert refs == [("ConfigMap", config_map["metadata"]["name"]), ("Secret", secret["metadata"]["name"])]
        assert "env" not in container, workload["metadata"]["name"]


def test_both_sides_of_the_split_trade_events_over_rabbitmq(rendered_sides):
    from tests.split.topology import BUS_ENV

    for side in rendered_sides["extracted-payments"].values():
        assert side.env["BUS_TRANSPORT"] == BUS_ENV["BUS_TRANSPORT"] == "rabbitmq"
        assert {"relay", "consumer"} <= {w["metadata"]["labels"][COMPONENT] for w in side.workloads()}


def test_each_side_calls_the_other_at_a_service_that_serves_it(rendered_sides):
    """CONTEXTS_REMOTE's base URLs name a Service of the rendering, on its port, selecting web pods of
    the side whose ALLOWED_HOSTS accepts that host name."""
    split = rendered_sides["extracted-payments"]
    services = {s["metadata"]["name"]: (side, s) for side in split.values() for s in side.of_kind("Service")}
    for side in split.values():
        for context, base_url in json.loads(side.env["CONTEXTS_REMOTE"]).items():
            url = urlsplit(base_url)
            callee, service = services[url.hostname]
            assert callee is not side, context
            assert url.port in [p["port"] for p in service["spec"]["ports"]]
            web = callee.one("Deployment", "web")
            assert selects(service["spec"]["selector"], web["spec"]["template"]["metadata"]["labels"])
            assert url.hostname in callee.env["ALLOWED_HOSTS"].split(","), (context, url.hostname)


def test_the_secret_examples_hold_placeholders_only():
    examples = secret_examples()
    assert [p.relative_to(DEPLOY).as_posix() for p in examples] == [
        "overlays/extracted-payments/payments/secrets.env.example",
        "overlays/monolith/secrets.env.example",
    ]
    for example in examples:
        for key, value in read_env_file(example).items():
            assert PLACEHOLDER in value, f"{example.name}: {key} holds a value, not a placeholder"


def test_the_sides_are_told_to_share_their_keys_and_not_their_database():
    """The two examples ask for the same value where the sides must share it (tokens signed by one and
    checked by the other, the broker, the cache) and for different databases."""
    monolith = read_env_file(DEPLOY / "overlays/monolith/secrets.env.example")
    payments = read_env_file(DEPLOY / "overlays/extracted-payments/payments/secrets.env.example")
    for key in ("SECRET_KEY", "JWT_SIGNING_KEY", "SERVICE_TOKEN_SECRET", "CELERY_BROKER_URL", "CACHE_URL"):
        assert monolith[key] == payments[key], key
    assert monolith["DATABASE_URL"] != payments["DATABASE_URL"]


@pytest.mark.parametrize(
    "path",
    ["deploy/overlays/monolith/secrets.env", "deploy/overlays/extracted-payments/payments/secrets.env"],
)
def test_filled_in_secrets_stay_out_of_git_and_out_of_the_image(path):
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not ignored by git"
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "deploy" in dockerignore


def readme_applies() -> list[tuple[str, str]]:
    """(overlay, label selector or '') of each `kubectl apply -k` in the README, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        words = shlex.split(line.split("#", 1)[0]) if line.startswith("kubectl apply -k") else []
        if words:
            overlay = words[3].removeprefix("deploy/overlays/")
            found.append((overlay, words[words.index("-l") + 1] if "-l" in words else ""))
    return found


def label_selector_matches(selector: str, labels: dict) -> bool:
    """kubectl's label selector syntax, as far as the README uses it: key=value and key in (a,b)."""
    for term in re.split(r",(?![^(]*\))", selector) if selector else []:
        if match := re.fullmatch(r"\s*([\w./-]+)\s+in\s+\(([^)]*)\)\s*", term):
            if labels.get(match[1]) not in [v.strip() for v in match[2].split(",")]:
                return False
        else:
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def test_the_readmes_rollout_applies_each_pods_settings_before_or_with_it(rendered):
    """Each step of the README's install and extraction applies something, and no pod it starts reads a
    ConfigMap or Secret that this or an earlier step has not applied."""
    applies = readme_applies()
    assert {overlay for overlay, _ in applies} == {"monolith", "extracted-payments"}
    applied: dict[str, set] = {}
    for overlay, selector in applies:
        chosen = [o for o in rendered[overlay] if label_selector_matches(selector, o["metadata"]["labels"])]
        assert chosen, f"`kubectl apply -k {overlay} -l {selector!r}` applies nothing"
        done = applied.setdefault(overlay, set())
        done |= {(o["kind"], o["metadata"]["name"]) for o in chosen}
        for workload in (o for o in chosen if o["kind"] in ("Deployment", "Job")):
            for source in pod_spec(workload)["containers"][0]["envFrom"]:
                ref = (
                    ("ConfigMap", source["configMapRef"]["name"])
                    if "configMapRef" in source
                    else ("Secret", source["secretRef"]["name"])
                )
                assert ref in done, f"{overlay} -l {selector!r}: {workload['metadata']['name']} needs {ref}"
        if selector:
            assert len(chosen) < len(rendered[overlay]), selector
