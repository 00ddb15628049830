"""Exponential backoff with "equal jitter", shared by the bus's redeliveries and the HTTP client's retries."""

import random


def equal_jitter(*, attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retrying after failed attempt number `attempt` (1 for the first failure).

    The ceiling doubles per attempt from `base` up to `cap` (seconds); half of it is waited for sure and
    the other half at random, so callers that failed together do not retry in lockstep yet none retries
    at once ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
