"""The error the resilient client raises: a dependency gave no usable answer; retrying later may help."""

from integration.errors import TransientError, register_error


@register_error
class DependencyUnavailable(TransientError):
    """An outbound call ended without a usable answer.

    Fields:
      dependency: the dependency's name in settings.RESILIENCE.
      reason: why the last attempt failed:
        "connect"      no connection could be made: the request was not sent;
        "timeout"      no answer within the read (or write) timeout: the request may have been acted on;
        "dropped"      the connection broke before a complete answer: it may have been acted on;
        "status"       the dependency answered 429 or 5xx (see `upstream_status`);
        "breaker-open" the circuit breaker is open: nothing was sent by this attempt;
        "refused"      an extracted context answered with no result of the operation (a refused
                       service token, a context not served there, an answer it cannot read): a
                       deployment's settings to fix (integration.services.remote).
      upstream_status: the HTTP status of the last answer, when reason is "status" or "refused";
        else None.
      attempts: requests sent during this call (0 when the breaker refused the first one).
      retry_after: seconds the dependency (Retry-After, RFC 9110 §10.2.3) or the open breaker asks the
        caller to wait before trying again; None when nothing is known.

    "timeout" and "dropped" leave a call that changes something in doubt: resolve it by looking it up
    by its idempotency key, or by repeating it with the same key, never by guessing.
    """

    code = "dependency-unavailable"
    title = "A dependency is temporarily unavailable."

    dependency: str
    reason: str
    upstream_status: int | None
    attempts: int
    retry_after: float | None
