"""Tables of the catalog context. Other contexts' things are referenced by id, never by ForeignKey."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from integration import money

sku_validator = RegexValidator(r"^[A-Z0-9][A-Z0-9\-_.]{0,63}$", "A SKU is 1-64 of A-Z, 0-9, '-', '_', '.'.")

MAX_IMAGES = 20
MAX_IMAGE_URL_LENGTH = 500
_image_url = URLValidator(schemes=["http", "https"])

# The most a SKU's on_hand may reach: well inside a PostgreSQL integer (2,147,483,647), so sums of a
# row and a bounded delta can never overflow the column, whichever path writes it.
MAX_ON_HAND = 1_000_000_000


def images_validator(value) -> None:
    """A product's images: a list of at most MAX_IMAGES http(s) URLs of at most 500 characters."""
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise ValidationError("Images are a list of URLs.", code="images")
    if len(value) > MAX_IMAGES:
        raise ValidationError(f"At most {MAX_IMAGES} images.", code="images")
    for url in value:
        if len(url) > MAX_IMAGE_URL_LENGTH:
            raise ValidationError(
                f"An image URL has at most {MAX_IMAGE_URL_LENGTH} characters.", code="images"
            )
        _image_url(url)


class Category(models.Model):
    """A node of the category tree. `path` is the materialised slug path ("home/kitchen/"), so a
    category's descendants are one indexed prefix match instead of a recursive walk."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Unique, so PostgreSQL also gets a varchar_pattern_ops index that serves the prefix match.
    path = models.CharField(max_length=800, unique=True, editable=False)

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.path.rstrip("/")


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True, validators=[sku_validator])
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, validators=[money.currency_validator])
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    images = models.JSONField(
        default=list, blank=True, validators=[images_validator], help_text="A list of image URLs."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_product_price_gte_0"),
        ]
        # The storefront lists active products (by category), ordered by price, name or age; the
        # trailing sku makes each order total, so pages are stable. The indexes are partial (active
        # only) and end in the sku, so a page of SKUs — however deep — is an index-only scan.
        indexes = [
            models.Index(fields=fields, name=name, condition=Q(is_active=True))
            for fields, name in (
                (["category", "price", "sku"], "catalog_product_cat_price_idx"),
                (["category", "name", "sku"], "catalog_product_cat_name_idx"),
                (["category", "-created_at", "sku"], "catalog_product_cat_new_idx"),
                (["price", "sku"], "catalog_product_price_idx"),
                (["name", "sku"], "catalog_product_name_idx"),
                (["-created_at", "sku"], "catalog_product_new_idx"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def clean(self) -> None:
        """A price is a whole number of its currency's minor units and fits the column's decimal places
        (integration.money: a currency with more, such as KWD, is refused, never rounded). full_clean()
        runs this after the fields' own validators, which have already judged a malformed price or an
        unknown currency code."""
        if self.currency in money.EXPONENTS and isinstance(self.price, Decimal) and self.price.is_finite():
            money.amount_validate(
                amount=self.price,
                currency=self.currency,
                places=self._meta.get_field("price").decimal_places,
                field="price",
            )


class Stock(models.Model):
    """How many of a SKU the warehouse holds (`on_hand`) and how many of those are promised."""

    product = models.OneToOneField(
        Product,
        primary_key=True,
        on_delete=models.CASCADE,
        to_field="sku",
        db_column="sku",
        related_name="stock",
    )
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="catalog_stock_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="catalog_stock_reserved_lte_on_hand"
            ),
            models.CheckConstraint(
                condition=Q(on_hand__lte=MAX_ON_HAND), name="catalog_stock_on_hand_lte_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def sku(self) -> str:
        return self.product_id

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Movement(models.Model):
    """The stock ledger: every change of `on_hand` or `reserved`, with who did it and why.

    Summing the deltas of a SKU gives its current on_hand and reserved, which is how the ledger is
    checked against the stock row.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt"
        ADJUSTMENT = "adjustment"
        RESERVATION = "reservation"
        RELEASE = "release"
        SALE = "sale"
        RETURN = "return"  # a sale given back to stock (an order cancelled after its stock was committed)

    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, db_column="sku", related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    reserved_after = models.IntegerField()
    reservation_key = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=200)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["stock", "-id"], name="catalog_movement_sku_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.stock_id} ({self.on_hand_delta:+}/{self.reserved_delta:+})"


class Reservation(models.Model):
    """Stock held for a key (the saga's `saga_id:step`) until `expires_at`. The unique key is what
    makes reserving idempotent, even for two concurrent calls with the same key."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMMITTED = "committed"
        RELEASED = "released"
        EXPIRED = "expired"
        RETURNED = "returned"  # committed, then given back to stock

    key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_at"]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="catalog_reservation_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

    def status_at(self, now: dt.datetime) -> str:
        """The status callers see at `now`: an active reservation past its expiry is expired already,
        before the sweeper marks it so."""
        if self.status == self.Status.ACTIVE and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reservation", "sku"], name="catalog_reservation_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="catalog_reservation_line_qty_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
