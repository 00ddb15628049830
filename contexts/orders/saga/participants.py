"""The saga's participants, reached only through their service interfaces. The steps call them as
`participants.catalog.stock_reserve(...)`, so the fast tests swap in fakes here and nowhere else."""

from contexts.catalog import api as catalog
from contexts.payments import api as payments
from contexts.shipping import api as shipping

__all__ = ["catalog", "payments", "shipping"]
