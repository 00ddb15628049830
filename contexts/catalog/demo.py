"""Demo data of the catalog context: a small browsable catalog with stock (idempotent)."""

from decimal import Decimal

from contexts.catalog import services
from contexts.catalog.models import Category, Movement, Product

CATEGORIES = [
    ("home", "Home", None),
    ("kitchen", "Kitchen", "home"),
    ("garden", "Garden", "home"),
    ("electronics", "Electronics", None),
    ("audio", "Audio", "electronics"),
    ("computers", "Computers", "electronics"),
    ("books", "Books", None),
]

# sku, name, price, category, stock, description
PRODUCTS = [
    ("KIT-KNIFE-20", "Chef's knife 20 cm", "49.90", "kitchen", 25, "Forged steel, full tang."),
    ("KIT-PAN-28", "Cast-iron frying pan 28 cm", "39.00", "kitchen", 12, "Pre-seasoned, oven safe."),
    ("KIT-MUG-SET", "Stoneware mugs, set of 4", "24.50", "kitchen", 40, "Dishwasher safe."),
    ("GAR-HOSE-25", "Garden hose 25 m", "29.95", "garden", 8, "Kink-free, with fittings."),
    ("GAR-SHEARS", "Pruning shears", "18.90", "garden", 0, "Bypass blades for live stems."),
    ("AUD-HEADPHONES", "Wireless headphones", "129.00", "audio", 15, "Noise cancelling, 30 h battery."),
    ("AUD-SPEAKER", "Bluetooth speaker", "59.00", "audio", 3, "Waterproof, 12 h battery."),
    ("CMP-KEYBOARD", "Mechanical keyboard", "89.00", "computers", 20, "Hot-swappable switches."),
    ("CMP-MOUSE", "Ergonomic mouse", "45.00", "computers", 30, "Vertical grip, USB-C."),
    ("CMP-MONITOR-27", "27-inch monitor", "279.00", "computers", 5, "2560x1440, 144 Hz."),
    ("BOOK-DDD", "Domain-Driven Design", "54.99", "books", 10, "Tackling complexity in software."),
    ("BOOK-PATTERNS", "Patterns of Enterprise Application Architecture", "49.99", "books", 7, "A classic."),
]


def seed(out) -> None:
    existing_categories = set(Category.objects.values_list("slug", flat=True))
    for slug, name, parent in CATEGORIES:
        if slug not in existing_categories:
            services.category_create(slug=slug, name=name, parent_slug=parent)
    existing = set(Product.objects.values_list("sku", flat=True))
    created = 0
    for sku, name, price, category, stock, description in PRODUCTS:
        if sku in existing:
            continue
        services.product_create(
            sku=sku,
            name=name,
            price=Decimal(price),
            currency="EUR",
            category=category,
            description=description,
            images=[f"https://images.example.com/{sku.lower()}.jpg"],
        )
        if stock:
            services.stock_adjust(
                sku=sku, delta=stock, reason="demo data", actor="system:seed_demo", kind=Movement.Kind.RECEIPT
            )
        created += 1
    out.write(f"catalog: {created} product(s) created, {len(existing)} already present")
