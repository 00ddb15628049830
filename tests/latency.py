"""Injected latency for the suite's own processes: while the cache key `tests:latency:<context>` holds a
number of seconds, every `/internal/<context>/...` call this process serves waits that long before it is
handled, as a slow service would. On in tests.settings only; the cache is shared with the test process,
which sets and clears the key."""

import time

from django.core.cache import cache

PREFIX = "/internal/"


def latency_key(context: str) -> str:
    return f"tests:latency:{context}"


class InjectedLatencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PREFIX):
            context = request.path[len(PREFIX) :].split("/", 1)[0]
            delay = cache.get(latency_key(context))
            if delay:
                time.sleep(float(delay))
        return self.get_response(request)
