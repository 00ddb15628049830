"""The catalog context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class CatalogConfig(ContextConfig):
    default = True
    name = "contexts.catalog"
    label = "catalog"
    verbose_name = "Catalog"
    responsibilities = (
        "Products, categories and prices",
        "Inventory: stock levels, the movement ledger",
        "Reservations with expiry for the order saga",
    )
    depends_on = ()
