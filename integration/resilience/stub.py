"""A stand-in for an outside provider on loopback, for tests and for trying failure paths by hand.

    python -m integration.resilience.stub --port 9100        (or: make stub-provider)

It answers like a well-behaved provider: GET (and other reads) echo what was asked; a POST is an
"effect" that happens once per Idempotency-Key, and a repeat with the same key gets the first answer
again (status and body, plus `Idempotent-Replayed: true`). It counts every call it receives per key.

It can be told to misbehave, through /_stub/ control endpoints (JSON) or, in the same process, the
StubProvider methods they call:

    POST   /_stub/faults   {"latency": 5}                    add 5 s before answering the next call
                           {"status": 503, "times": 3}       answer the next 3 calls 503
                           {"status": 429, "retry_after": "2"}
                           {"drop": "before"}                close the connection without answering
                           {"drop": "after"}                 ... after performing the effect
                           optional "method", "path" (a prefix) to aim at some calls; "times": null
                           means until the faults are cleared; faults apply first come, first served
    DELETE /_stub/faults                                     clear the faults
    GET    /_stub/calls    {"total": 7, "keys": {"k1": 2}, "effects": {"k1": 1}, "max_in_flight": 1}
    POST   /_stub/reset                                      forget everything

It plays a payment provider under /v1/ (PaymentStubProvider, what `make stub-provider` serves),
in the wire format of contexts/payments/providers/http.py: authorizations kept per Idempotency-Key
(a repeat answers the first result, never a second charge), capture, void and refunds by the
authorization's id, and `GET /v1/operations?key=...` to look up what a keyed write answered first.
Payment-method tokens: "pm_card_ok" approves, "pm_card_declined" and "pm_card_insufficient_funds"
decline (402), anything else is invalid (422). The faults above apply to these routes too, "drop":
"after" included (the charge is made, the answer lost).

Others (a carrier) play their provider the same way: subclass StubProvider and override handle()
(use effect() for keyed writes). Standard library only: no Django, no settings.
"""

import argparse
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

CONTROL_PREFIX = "/_stub/"


class DropConnection(Exception):
    """Raised by the app to close the connection without a response (a provider crashing mid-call)."""


@dataclass(kw_only=True)
class Fault:
    """Misbehaviour for the next `times` matching calls (None: until cleared).

    latency: seconds to wait first. status: answer this instead (with `retry_after` as Retry-After).
    drop: "before" closes the connection without doing anything, "after" does the call's effect and
    then closes it without answering. method / path (a prefix): which calls it applies to (any if
    None).
    """

    latency: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    drop: str | None = None
    times: int | None = 1
    method: str | None = None
    path: str | None = None

    def __post_init__(self):
        if not (isinstance(self.latency, int | float) and 0 <= self.latency <= 600):
            raise ValueError("latency is 0 to 600 seconds")
        if self.status is not None and not (isinstance(self.status, int) and 200 <= self.status <= 599):
            raise ValueError("status is an HTTP status from 200 to 599")
        if self.drop not in (None, "before", "after"):
            raise ValueError('drop is "before" or "after"')
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 1):
            raise ValueError("times is a whole number of at least 1, or null")

    def matches(self, request: "Request") -> bool:
        return (self.method is None or self.method.upper() == request.method) and (
            self.path is None or request.path.startswith(self.path)
        )


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Effect:
    response: Response
    count: int = 1


@dataclass
class _Counts:
    total: int = 0
    keys: Counter = field(default_factory=Counter)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each call
    in_flight: int = 0
    max_in_flight: int = 0


class StubProvider:
    """The WSGI application. Thread-safe: the server runs each connection on its own thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    # --- control (the /_stub/ endpoints call these; tests in the same process may too) ----------------
    def reset(self) -> None:
        with self._lock:
            self._faults: list[Fault] = []
            self._effects: dict[str, _Effect] = {}
            self._counts = _Counts()

    def add_fault(self, **fields: Any) -> Fault:
        fault = Fault(**fields)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def total_calls(self) -> int:
        return self._counts.total

    def calls_for(self, key: str) -> int:
        """Calls received with this Idempotency-Key."""
        return self._counts.keys[key]

    def effects_for(self, key: str) -> int:
        """Times the effect keyed `key` was performed (1 however often it was asked)."""
        effect = self._effects.get(key)
        return effect.count if effect else 0

    @property
    def arrivals(self) -> list[float]:
        return list(self._counts.arrivals)

    @property
    def max_in_flight(self) -> int:
        return self._counts.max_in_flight

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._counts.total,
                "keys": dict(self._counts.keys),
                "effects": {key: effect.count for key, effect in self._effects.items()},
                "max_in_flight": self._counts.max_in_flight,
            }

    # --- provider behaviour (override handle() to play a given provider) -------------------------------
    def handle(self, request: Request) -> Response:
        """A POST is an effect (once per key); any other method echoes the request."""
        if request.method == "POST":
            return self.effect(request, lambda: self.created(request))
        return Response(status=200, body={"method": request.method, "path": request.path, "key": request.key})

    def created(self, request: Request) -> Response:
        try:
            sent = request.json()
        except ValueError:
            sent = None
        return Response(status=201, body={"id": str(uuid.uuid4()), "path": request.path, "request": sent})

    def effect(self, request: Request, perform: Callable[[], Response]) -> Response:
        """`perform()` once per idempotency key; a repeat gets the first response (replayed). Without a
        key it is performed every time."""
        key = request.key
        if key is None:
            return perform()
        with self._lock:
            stored = self._effects.get(key)
            if stored is None:
                stored = self._effects[key] = _Effect(response=perform())
                return stored.response
        headers = (*stored.response.headers, ("Idempotent-Replayed", "true"))
        return Response(status=stored.response.status, body=stored.response.body, headers=headers)

    # --- WSGI --------------------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _read(environ)
        control = request.path.startswith(CONTROL_PREFIX)
        response = self._control(request) if control else self._serve(request)
        body = b"" if response.body is None else json.dumps(response.body).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *response.headers,
        ]
        phrase = (
            HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        )
        start_response(f"{response.status} {phrase}".rstrip(), headers)
        return [] if request.method == "HEAD" else [body]

    def _serve(self, request: Request) -> Response:
        with self._lock:
            counts = self._counts
            counts.total += 1
            counts.arrivals.append(time.monotonic())
            if request.key is not None:
                counts.keys[request.key] += 1
            counts.in_flight += 1
            counts.max_in_flight = max(counts.max_in_flight, counts.in_flight)
            fault = self._take_fault(request)
        try:
            if fault and fault.latency:
                time.sleep(fault.latency)
            if fault and fault.drop == "before":
                raise DropConnection
            if fault and fault.status:
                headers = (("Retry-After", fault.retry_after),) if fault.retry_after else ()
                response = Response(status=fault.status, body={"title": "Injected fault"}, headers=headers)
            else:
                response = self.handle(request)
            if fault and fault.drop == "after":
                raise DropConnection
            return response
        finally:
            with self._lock:
                counts.in_flight -= 1

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self._faults:
            if fault.matches(request):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _control(self, request: Request) -> Response:
        action = (request.method, request.path[len(CONTROL_PREFIX) :].strip("/"))
        if action == ("GET", "calls"):
            return Response(status=200, body=self.summary())
        if action == ("POST", "reset"):
            self.reset()
            return Response(status=204)
        if action == ("DELETE", "faults"):
            self.clear_faults()
            return Response(status=204)
        if action == ("POST", "faults"):
            try:
                fields = request.json()
                if not isinstance(fields, dict):
                    raise ValueError("a fault is a JSON object")
                fault = self.add_fault(**fields)
            except (TypeError, ValueError) as exc:
                return Response(status=400, body={"title": "Bad fault", "detail": str(exc)})
            return Response(status=201, body={"fault": asdict(fault)})
        return Response(status=404, body={"title": "No such control endpoint"})


# --- a carrier (shipping's HTTP adapter, contexts.shipping.carriers.http) -------------------------------


class CarrierStub(StubProvider):
    """Plays a carrier's REST API. Keyed POSTs act once per key, as the base class's effects do:

        POST /shipments               201 {"id", "tracking_number": "STB" + 12 digits, "estimated_delivery"}
                                      422 {"code": "address_rejected"} for postal code "00000"
        POST /shipments/<id>/cancel   200 {"id", "status": "cancelled"}; 409 {"code": "not_cancellable"}
                                      once handed over (hand_over()); 404 for an unknown id
        GET  /shipments/<id>          200 {"id", "tracking_number", "status"}

    Faults (latency, statuses, drops) apply before any of this, as for every stub. The effects run
    under the stub's lock (effect()), so they touch `shipments` without taking it again.
    """

    def reset(self) -> None:
        super().reset()
        self.shipments: dict[str, dict[str, Any]] = {}

    def hand_over(self, shipment_id: str) -> None:
        """The parcel is with the carrier now: it can no longer be cancelled."""
        with self._lock:
            self.shipments[shipment_id]["status"] = "in_transit"

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["shipments"]:
            return self.effect(request, lambda: self._create(request))
        if request.method == "POST" and len(parts) == 3 and parts[0] == "shipments" and parts[2] == "cancel":
            return self.effect(request, lambda: self._cancel(parts[1]))
        if request.method == "GET" and len(parts) == 2 and parts[0] == "shipments":
            found = self.shipments.get(parts[1])
            return (
                Response(status=200, body=found)
                if found
                else Response(status=404, body={"code": "not_found"})
            )
        return Response(status=404, body={"code": "not_found"})

    def _create(self, request: Request) -> Response:
        try:
            sent = request.json()
            postal_code = sent["address"]["postal_code"]
        except (ValueError, TypeError, KeyError):
            return Response(status=400, body={"code": "bad_request", "message": "Not a shipment."})
        if postal_code == "00000":
            return Response(status=422, body={"code": "address_rejected", "message": "Undeliverable."})
        shipment_id = f"stub_shp_{uuid.uuid4().hex[:16]}"
        shipment = {
            "id": shipment_id,
            "tracking_number": f"STB{uuid.uuid4().int % 10**12:012d}",
            "estimated_delivery": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 86400)),
            "status": "label_purchased",
        }
        self.shipments[shipment_id] = shipment
        return Response(status=201, body=shipment)

    def _cancel(self, shipment_id: str) -> Response:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            return Response(status=404, body={"code": "not_found"})
        if shipment["status"] not in ("label_purchased", "cancelled"):
            return Response(status=409, body={"code": "not_cancellable", "message": "Handed over."})
        shipment["status"] = "cancelled"
        return Response(status=200, body={"id": shipment_id, "status": "cancelled"})


def _read(environ: dict) -> Request:
    length = environ.get("CONTENT_LENGTH") or "0"
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return Request(
        method=environ["REQUEST_METHOD"].upper(),
        path=environ.get("PATH_INFO") or "/",
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
    )


# --- playing a payment provider ----------------------------------------------------------------------------

PAYMENTS_PREFIX = "/v1/"
APPROVE = "pm_card_ok"
DECLINES = {"pm_card_declined": "card_declined", "pm_card_insufficient_funds": "insufficient_funds"}


@dataclass
class Authorization:
    id: str
    amount: Decimal
    currency: str
    status: str = "authorized"  # authorized | captured | voided
    captured_amount: Decimal = Decimal("0")
    refunded_amount: Decimal = Decimal("0")
    captures: int = 0  # times money was captured: 1 at most, however often a capture was asked

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            **{name: str(getattr(self, name)) for name in ("amount", "captured_amount", "refunded_amount")},
        }


def _declined(status: int, code: str, message: str) -> Response:
    return Response(status=status, body={"status": "declined", "decline_code": code, "message": message})


def _bad_request(detail: str) -> Response:
    # No decline_code: the provider took no decision (the adapter treats it as no answer).
    return Response(status=400, body={"title": "Bad request", "detail": detail})


def _amount(sent: dict) -> Decimal:
    value = sent.get("amount")
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise ValueError("amount is a decimal string above 0")
    return amount


# What capture, void and refunds do to an authorization (under the stub's lock, once per key).
def _capture(found: Authorization, amount: Decimal) -> Response:
    if found.status != "authorized" or amount > found.amount:
        return _declined(409, "charge_not_capturable", f"It is {found.status}, of {found.amount}.")
    found.status, found.captured_amount, found.captures = "captured", amount, found.captures + 1
    return Response(status=200, body={"id": found.id, "status": found.status, "amount": str(amount)})


def _void(found: Authorization, amount: None) -> Response:
    if found.status not in ("authorized", "voided"):
        return _declined(409, "charge_not_voidable", f"It is {found.status}.")
    found.status = "voided"
    return Response(status=200, body={"id": found.id, "status": found.status})


def _refund(found: Authorization, amount: Decimal) -> Response:
    remaining = found.captured_amount - found.refunded_amount
    if amount > remaining:
        return _declined(409, "refund_exceeds_captured", f"{remaining} remains to refund.")
    found.refunded_amount += amount
    body = {"id": f"re_{uuid.uuid4().hex[:16]}", "status": "succeeded", "authorization": found.id}
    return Response(status=201, body={**body, "amount": str(amount)})


_CHANGES = {"capture": _capture, "void": _void, "refunds": _refund}


class PaymentStubProvider(StubProvider):
    """A card processor under /v1/ (routes in the module docstring); any other path is StubProvider's.

    Its writes are effects, so each happens once per Idempotency-Key; they require one (400 without).
    """

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._authorizations: dict[str, Authorization] = {}

    def authorization(self, id: str) -> dict[str, Any] | None:
        """An authorization as the provider keeps it (amounts as strings), or None."""
        with self._lock:
            found = self._authorizations.get(id)
            return found.as_dict() if found else None

    @property
    def authorizations(self) -> int:
        """Authorizations ever made: the charges a double authorize would double."""
        return len(self._authorizations)

    def summary(self) -> dict[str, Any]:
        summary = super().summary()
        with self._lock:
            summary["authorizations"] = {id: a.as_dict() for id, a in self._authorizations.items()}
        return summary

    def handle(self, request: Request) -> Response:
        if not request.path.startswith(PAYMENTS_PREFIX):
            return super().handle(request)
        route = request.path[len(PAYMENTS_PREFIX) :].strip("/").split("/")
        if request.method == "GET" and route == ["operations"]:
            return self._lookup(request)
        if request.method == "GET" and len(route) == 2 and route[0] == "authorizations":
            found = self.authorization(route[1])
            if found is None:
                return _declined(404, "no_such_authorization", "No such authorization.")
            return Response(status=200, body=found)
        if request.method != "POST" or route[0] != "authorizations" or len(route) not in (1, 3):
            return Response(status=404, body={"title": "No such route"})
        if request.key is None:
            return _bad_request("An Idempotency-Key header is required.")
        try:
            sent = request.json()
            if not isinstance(sent, dict):
                raise ValueError("the body is a JSON object")
            if len(route) == 1:
                act = self._authorize(sent)
            elif route[2] in _CHANGES:
                amount = None if route[2] == "void" else _amount(sent)
                act = self._change(route[1], _CHANGES[route[2]], amount)
            else:
                return Response(status=404, body={"title": "No such route"})
        except ValueError as exc:
            return _bad_request(str(exc))
        return self.effect(request, act)

    # These return the act that effect() performs (under the lock) once per key.
    def _authorize(self, sent: dict) -> Callable[[], Response]:
        amount, currency, method = _amount(sent), sent.get("currency"), sent.get("payment_method")
        if not (isinstance(currency, str) and re.fullmatch("[A-Z]{3}", currency)):
            raise ValueError("currency is an ISO 4217 code")
        if not isinstance(method, str):
            raise ValueError("payment_method is a token")

        def act() -> Response:
            if method in DECLINES:
                return _declined(402, DECLINES[method], f"The card was declined ({DECLINES[method]}).")
            if method != APPROVE:
                body = {"status": "invalid", "decline_code": "invalid_payment_method"}
                return Response(status=422, body={**body, "message": "Unknown payment method."})
            found = Authorization(id=f"auth_{uuid.uuid4().hex[:16]}", amount=amount, currency=currency)
            self._authorizations[found.id] = found
            body = {"id": found.id, "status": found.status, "amount": str(amount), "currency": currency}
            return Response(status=201, body=body)

        return act

    def _change(self, id: str, change: Callable, amount: Decimal | None) -> Callable[[], Response]:
        def act() -> Response:
            found = self._authorizations.get(id)
            if found is None:
                return _declined(404, "no_such_authorization", "No such authorization.")
            return change(found, amount)

        return act

    def _lookup(self, request: Request) -> Response:
        keys = parse_qs(request.query).get("key")
        if not keys:
            return _bad_request("Give the key to look up: ?key=...")
        with self._lock:
            stored = self._effects.get(keys[0])
        if stored is None:
            return Response(status=200, body={"key": keys[0], "found": False})
        answer = {"status": stored.response.status, "body": stored.response.body}
        return Response(status=200, body={"key": keys[0], "found": True, **answer})


# --- the server ------------------------------------------------------------------------------------------


class _ServerHandler(ServerHandler):
    def handle_error(self):
        if isinstance(sys.exc_info()[1], DropConnection):
            raise  # to _RequestHandler.handle, before any byte of a response is written
        super().handle_error()

    def close(self):
        if self.status is None:  # dropped: nothing to log
            self.result = self.headers = self.status = self.environ = None
            self.bytes_sent = 0
            self.headers_sent = False
            return
        super().close()


class _RequestHandler(WSGIRequestHandler):
    def handle(self):
        # wsgiref's handle(), with a handler that lets the app drop the connection.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())
        except DropConnection:
            # Shut both ways now: the client sees the connection end with no response at all.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Stopping must not wait for a call the stub is sleeping through (latency faults).
    block_on_close = False
    verbose = False

    def handle_error(self, request, client_address):
        # A client that gave up (its read timeout) while the stub slept is expected, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class StubServer:
    """A StubProvider served on a thread: `with StubServer() as stub: ... stub.url ... stub.app`.

    port 0 picks a free port; the URL is then known after start().
    """

    def __init__(self, app: StubProvider | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.app = app or StubProvider()
        self._server = _ThreadingServer((host, port), _RequestHandler)
        self._server.set_app(self.app)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StubServer":
        # stop() waits for the serving loop to notice: poll often, so a test's teardown is not 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="stub-provider",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the stub provider (control endpoints under /_stub/).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args(argv)
    server = _ThreadingServer((args.host, args.port), _RequestHandler)
    server.verbose = True
    server.set_app(PaymentStubProvider())
    print(
        f"Stub provider on http://{args.host}:{args.port}/ (a payment provider under {PAYMENTS_PREFIX}; "
        f"control: {CONTROL_PREFIX}faults, calls, reset)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
