"""The baseline: a Celery chain of one-insert tasks, as many as the order saga has steps."""

from celery import shared_task
from django.db import connection

TABLE = "bench_chain_step"


@shared_task(name="benchcheckout.chain_step", ignore_result=True)
def chain_step(chain_id: str, step: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (chain, step) VALUES (%s, %s)", [chain_id, step])
