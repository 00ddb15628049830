"""The database router of every deployment: a context's tables exist only where it is local.

A deployment that extracted payments has no payments tables of its own (or, migrated before, stale
empty ones): reading `payments.Payment` there is a bug that would quietly find nothing. So an ORM read
or write of a model of a context that is not local (integration.placement, CONTEXTS_LOCAL) raises
ContextNotLocal, and `migrate` creates no table of such a context. Apps that are no context (Django's,
integration, the tests' own) are everywhere.

One model is everywhere too: the user model (AUTH_USER_MODEL, with its group and permission tables).
Django's own apps need it in every database (the admin's login, sessions and log, the auth backend,
createsuperuser), so where users is not local its table holds only that deployment's operator accounts.
No context reads it: the others know a user by the token's claims.

The admin lists only local contexts' models (admin_unregister_non_local, run once at start-up): the
operator of an extracted context uses its own deployment's admin.
"""

from django.conf import settings

from integration import placement


class ContextNotLocal(RuntimeError):
    """An ORM query of a model whose context this deployment does not hold (a programming error)."""

    def __init__(self, model):
        context = model._meta.app_label
        super().__init__(
            f"{model._meta.label} belongs to the {context!r} context, which is not local to this "
            f"deployment (CONTEXTS_LOCAL: {', '.join(settings.CONTEXTS_LOCAL)}): its tables are in the "
            f"database of the deployment that holds it. Call its api (contexts.{context}.api) or "
            "subscribe to its events instead."
        )
        self.context = context


def _is_user_model(model) -> bool:
    owner = model._meta.auto_created or model  # the user's many-to-many tables belong to it
    return owner._meta.label == settings.AUTH_USER_MODEL


def _placed_elsewhere(app_label: str) -> bool:
    return not placement.is_local(app_label)


class LocalContextsRouter:
    """Refuses queries and migrations of the contexts this deployment does not hold; otherwise has no
    opinion (Django's default database), so a test's own router placed before it still decides."""

    def db_for_read(self, model, **hints):
        if _placed_elsewhere(model._meta.app_label) and not _is_user_model(model):
            raise ContextNotLocal(model)
        return None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if not _placed_elsewhere(app_label):
            return None
        model = hints.get("model")  # given by Django for a model's table; its name alone otherwise
        if model is not None and _is_user_model(model):
            return None
        if model_name is not None and f"{app_label}.{model_name}" == settings.AUTH_USER_MODEL.lower():
            return None
        # Anything else of the context, its data migrations (RunPython: no model) included.
        return False


def admin_unregister_non_local(site) -> list[str]:
    """Take the models of contexts this deployment does not hold off the admin `site` (an AdminSite);
    returns their labels."""
    gone = [model for model in site._registry if _placed_elsewhere(model._meta.app_label)]
    site.unregister(gone)
    return sorted(model._meta.label for model in gone)
