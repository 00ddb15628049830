"""Structured logging: every line carries the correlation id bound by the edge or the Celery task."""

import logging

import structlog

FOREIGN_PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

JSON_PROCESSORS = [
    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    structlog.processors.format_exc_info,
    structlog.processors.JSONRenderer(),
]

CONSOLE_PROCESSORS = [
    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    # Python's own traceback: structlog would otherwise render with rich whenever a dev tool happens to
    # have installed it, with every frame's locals, in colour, at a few hundred milliseconds an error.
    structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
]

structlog.configure(
    processors=[
        *FOREIGN_PRE_CHAIN,
        structlog.processors.StackInfoRenderer(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


__all__ = ["get_logger", "logging"]
