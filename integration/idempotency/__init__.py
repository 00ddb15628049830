"""Idempotency-Key for unsafe requests: one decorator that endpoints moving money or creating orders opt into.

    from integration.idempotency import idempotent

    class CheckoutApi(APIView):
        @idempotent
        def post(self, request): ...

`views` holds the decorator and the HTTP rules, `core` the claim/complete/release protocol on the
`models` table, `tasks` (integration.tasks) the beat purge of keys past their retention.
"""

# Loaded on first use: the models module imports this package while Django is still loading apps.
_LAZY = {
    "idempotent": "integration.idempotency.views",
    "HEADER": "integration.idempotency.views",
    "REPLAYED_HEADER": "integration.idempotency.views",
    "keys_purge": "integration.idempotency.core",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'integration.idempotency' has no attribute {name!r}")


__all__ = ["HEADER", "REPLAYED_HEADER", "idempotent", "keys_purge"]
