"""What the test endpoints do: one Effect row per run of a view, so a second run is countable."""

from django.db import models


class Effect(models.Model):
    view = models.CharField(max_length=50)
    user_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.view} for {self.user_id}"
