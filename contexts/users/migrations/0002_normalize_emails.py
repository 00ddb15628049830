"""Store every address in its one normal form (integration.text.normalize_email).

Registration, both login doors and the rate-limit buckets now normalise addresses (NFKC, the domain
in IDNA ASCII form, lower case), so a row stored in another spelling could no longer be found by its
own owner. Each such row is rewritten, unless its normal form already belongs to another account
(the lookalike registrations this change prevents) or would not fit the column: those rows are left
as they are and listed in the migration's output for an operator to resolve (deactivate or merge),
since choosing which of two accounts keeps an address is not a migration's decision.
"""

from django.db import migrations
from django.db.models.functions import Lower

from integration.text import EMAIL_MAX_LENGTH, normalize_email


def normalize_stored_emails(apps, schema_editor):
    users = apps.get_model("users", "User").objects.using(schema_editor.connection.alias)
    # One pass over the table for the (few) rows to change, then each checked against the unique
    # LOWER(email) index: memory stays flat however many users there are.
    pending = [
        (user_id, email, normal)
        for user_id, email in users.values_list("id", "email").iterator(chunk_size=2000)
        if (normal := normalize_email(email)) != email
    ]
    left: list[str] = []
    for user_id, email, normal in pending:
        others = users.exclude(id=user_id).alias(email_lower=Lower("email"))
        taken = others.filter(email_lower=normal).exists()
        if taken or len(normal) > EMAIL_MAX_LENGTH:
            left.append(f"{user_id} ({email!r} -> {normal!r})")
            continue
        users.filter(id=user_id).update(email=normal)
    if left:
        print(  # a migration's way to tell the operator
            "\n  users.0002: addresses left unnormalised (normal form taken or too long): " + "; ".join(left)
        )


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]

    operations = [migrations.RunPython(normalize_stored_emails, migrations.RunPython.noop, elidable=False)]
