"""The correlation id of the work in progress: set by the edge per request and by Celery per task."""

import contextvars
import re
import uuid

import structlog

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
_causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)

# What we accept from a client's X-Request-ID: printable, header-safe and bounded.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}$")


def is_well_formed(value: str | None) -> bool:
    return bool(value) and bool(_WELL_FORMED.match(value))


def new_id() -> str:
    return uuid.uuid4().hex


def get() -> str | None:
    return _correlation_id.get()


def get_causation() -> str | None:
    return _causation_id.get()


class bound:
    """Context manager: run a block with a correlation (and causation) id bound, logs included."""

    def __init__(self, correlation_id: str | None, causation_id: str | None = None):
        self.correlation_id = correlation_id or new_id()
        self.causation_id = causation_id

    def __enter__(self) -> str:
        self._tokens = (
            _correlation_id.set(self.correlation_id),
            _causation_id.set(self.causation_id),
        )
        self._log_tokens = structlog.contextvars.bind_contextvars(correlation_id=self.correlation_id)
        return self.correlation_id

    def __exit__(self, *exc) -> None:
        structlog.contextvars.reset_contextvars(**self._log_tokens)
        _correlation_id.reset(self._tokens[0])
        _causation_id.reset(self._tokens[1])
