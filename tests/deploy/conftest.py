"""Each overlay rendered once per session, from a copy of deploy/ whose secrets hold test values."""

import os

import pytest
from django.conf import settings

from tests.deploy.manifests import OVERLAYS, FilledSecrets, copy_with_secrets, image_tree, render, sides

# (overlay, instance): every side that some overlay runs.
SIDES = [("monolith", "shop"), ("extracted-payments", "shop"), ("extracted-payments", "payments")]
SIDE_IDS = ["monolith", "extracted-shop", "extracted-payments"]


@pytest.fixture(scope="session")
def filled_secrets():
    return FilledSecrets(
        database_url=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop"),
        broker_url=settings.CELERY_BROKER_URL,
        cache_url=os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1"),
    )


@pytest.fixture(scope="session")
def deploy_copy(tmp_path_factory, filled_secrets):
    return copy_with_secrets(tmp_path_factory.mktemp("k8s") / "deploy", filled_secrets)


@pytest.fixture(scope="session")
def rendered(deploy_copy):
    """{"base": [...], "monolith": [...], "extracted-payments": [...]}: the objects each would apply."""
    return {
        "base": render(deploy_copy / "base"),
        **{name: render(deploy_copy / "overlays" / name) for name in OVERLAYS},
    }


@pytest.fixture(scope="session")
def rendered_sides(rendered):
    return {name: sides(rendered[name]) for name in OVERLAYS}


@pytest.fixture(scope="session")
def image(tmp_path_factory):
    """The image's /app as the Dockerfile lays it out."""
    return image_tree(tmp_path_factory.mktemp("image") / "app")


@pytest.fixture(params=SIDES, ids=SIDE_IDS)
def side(request, rendered_sides):
    overlay, instance = request.param
    return rendered_sides[overlay][instance]
