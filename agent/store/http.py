"""HTTP request handling of the profile store: routing, auth, limits, validation.

Every response is JSON. A client error gets a 4xx status and a body of the form
{"error": {"status": 400, "reason": "..."}}. Anything else that goes wrong is
a bug, which is logged with its traceback and gets status 500.
"""

import hmac
import json
import logging
import math
import re
import sqlite3
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote

from agent import __version__
from agent.store.records import (
    MAX_NESTING,
    InvalidRecord,
    format_timestamp,
    shorten,
    type_name,
    validate_id,
    validate_record,
)

# Seconds a client waits before retrying after the database failed.
RETRY_AFTER_UNAVAILABLE = 30

log = logging.getLogger("agent.store")

API_PREFIX = ("resources", "v2", "customerappprofile")
MAX_RECORDS = 100
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
CONTENT_LENGTH_PATTERN = re.compile(r"[0-9]{1,19}")

# Nesting level of an attribute entry in each body. In an events body, levels
# 1 to 5 are the body, records, a record, its attributes and the entry.
EVENTS_VALUE_LEVEL = 5
PROFILE_VALUE_LEVEL = 3


class HttpError(Exception):
    """An error response: its status, reason, extra headers and extra body fields."""

    def __init__(self, status, reason, headers=(), extra=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)
        self.extra = extra or {}

    def payload(self):
        return {"error": {"status": self.status, "reason": self.reason}, **self.extra}


class ClientGone(Exception):
    """The client closed the connection or timed out while sending its body."""


class StoreRequestHandler(BaseHTTPRequestHandler):
    """Handle the requests of one connection. The server object carries the database, key and limits."""

    protocol_version = "HTTP/1.1"
    # http.server writes no status line for HTTP/0.9, its default for a request
    # line it cannot parse, so a client would see a bare body.
    default_request_version = "HTTP/1.0"
    server_version = f"device-agent-store/{__version__}"
    # Idle keep-alive connections and slow bodies are dropped after this many seconds.
    timeout = 30
    disable_nagle_algorithm = True
    body_pending = False

    def __getattr__(self, name):
        # BaseHTTPRequestHandler looks up do_<METHOD>; sending every method to
        # one dispatcher turns an unknown method into 405 or 404, not 501.
        if name.startswith("do_"):
            return self.handle_request
        raise AttributeError(name)

    def handle_request(self):
        self.body_pending = self._declares_body()
        try:
            status, payload, headers = self.route()
        except HttpError as error:
            status, payload, headers = error.status, error.payload(), error.headers
            self.server.client_errors.info(
                "%s %s from %s got %d: %s%s", self.command, shorten(self.path, 200),
                self.client_address[0], status, error.reason, first_rejection(payload),
            )
        except ClientGone as error:
            log.debug("client %s closed the connection or timed out: %s", self.client_address[0], error)
            self.close_connection = True
            return
        except sqlite3.OperationalError as error:
            # A full disk or a locked database passes; the client keeps its events and retries.
            log.error("request %s %s failed on the database, responding with 503: %s", self.command, shorten(self.path, 200), error)
            status = HTTPStatus.SERVICE_UNAVAILABLE
            payload = error_payload(status, f"the store cannot write its database ({error}); retry later")
            headers = (("Retry-After", str(RETRY_AFTER_UNAVAILABLE)),)
        except Exception:
            log.exception("request %s %s failed", self.command, shorten(self.path, 200))
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            payload = error_payload(status, "the store failed on this request; its log has the details")
            headers = ()
        self.send_json(status, payload, headers)

    def send_error(self, code, message=None, explain=None):
        """Send the errors that http.server detects itself (bad request line, headers) as JSON."""
        self.close_connection = True
        phrase = message or HTTPStatus(code).phrase
        reason = f"{phrase}; send a well-formed HTTP/1.1 request"
        self.send_json(code, error_payload(code, reason), ())

    def send_json(self, status, payload, headers):
        body = json.dumps(payload).encode("ascii")
        if self.body_pending:
            # The unread body is still in the stream, so the connection cannot carry another request.
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_expect_100(self):
        # Reject a body over the cap before the client sends it, not after.
        length = self.headers.get("Content-Length", "").strip()
        if CONTENT_LENGTH_PATTERN.fullmatch(length) and int(length) > self.server.max_body:
            error = body_too_large(int(length), self.server.max_body)
            self.body_pending = True
            self.send_json(error.status, error.payload(), ())
            return False
        return super().handle_expect_100()

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    # routing

    def route(self):
        raw_path, _, query = self.path.partition("?")
        segments = split_path(raw_path)

        if segments == ["healthz"]:
            self.require_method(("GET",))
            self.require_no_query(query)
            return HTTPStatus.OK, {"status": "ok"}, ()

        if len(segments) < 5 or tuple(segments[:3]) != API_PREFIX:
            raise not_found(raw_path)
        app_segment, rest = segments[3], segments[4:]
        if rest == ["events"]:
            handlers = {"POST": self.post_events}
        elif rest == ["profiles"]:
            handlers = {"GET": self.get_profiles, "POST": self.post_profile}
        elif len(rest) == 2 and rest[0] == "profiles":
            handlers = {"GET": self.get_profile}
        else:
            raise not_found(raw_path)

        self.require_method(tuple(handlers))
        app_id = path_id(app_segment, "appId")
        arguments = [app_id]
        if len(rest) == 2:
            arguments.append(path_id(rest[1], "deviceId"))
        self.authenticate()
        return handlers[self.command](*arguments, query)

    def require_method(self, allowed):
        if self.command not in allowed:
            raise HttpError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"method {shorten(self.command)} is not allowed on this path; "
                f"use {' or '.join(allowed)}",
                headers=[("Allow", ", ".join(allowed))],
            )

    def require_no_query(self, query):
        if query:
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                "this endpoint takes no query parameters; remove the query string",
            )

    def authenticate(self):
        key = self.server.key
        if key is None:
            return
        supplied = self.headers.get("key")
        if supplied is None:
            raise HttpError(
                HTTPStatus.UNAUTHORIZED,
                "the key header is missing; send the profile key in a header named key",
            )
        # http.client decodes header bytes as Latin-1, so encoding back recovers them.
        if not hmac.compare_digest(supplied.encode("latin-1", "replace"), key):
            raise HttpError(
                HTTPStatus.UNAUTHORIZED,
                "the key header does not match the store's profile key; check the key",
            )

    # endpoints

    def post_events(self, app_id, query):
        self.require_no_query(query)
        body = self.read_json_body()
        unknown = sorted(set(body) - {"records"})
        if unknown:
            raise bad_request(f"unknown field {shorten(unknown[0])} in body; send only records")
        records = body.get("records")
        if not isinstance(records, list):
            raise bad_request(f"records must be an array of records, got {type_name(records)}")
        if not 1 <= len(records) <= MAX_RECORDS:
            raise bad_request(
                f"records has {len(records)} entries; send 1 to {MAX_RECORDS} records per request"
            )

        now = self.server.clock()
        checked = []
        for raw in records:
            try:
                checked.append(validate_record(raw, now, EVENTS_VALUE_LEVEL))
            except InvalidRecord as error:
                checked.append(error)
        valid = [record for record in checked if not isinstance(record, InvalidRecord)]
        self.limit_rate(app_id, valid)

        outcomes = iter(self.server.db.apply(app_id, valid, format_timestamp(now)) if valid else ())
        results = []
        for raw, record in zip(records, checked):
            if isinstance(record, InvalidRecord):
                results.append(rejected_result(raw, str(record)))
                continue
            outcome = next(outcomes)
            if outcome.status == "rejected":
                results.append(rejected_result(raw, outcome.reason, outcome.code))
            else:
                results.append({"event_id": record.event_id, "status": outcome.status})

        rejected = sum(1 for result in results if result["status"] == "rejected")
        if rejected:
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                f"{rejected} of {len(results)} records were rejected and the others were "
                "applied; fix the rejected ones as their results say and send only those again",
                extra={"results": results},
            )
        return HTTPStatus.OK, {"results": results}, ()

    def post_profile(self, app_id, query):
        self.require_no_query(query)
        body = self.read_json_body()
        now = self.server.clock()
        try:
            record = validate_record(body, now, PROFILE_VALUE_LEVEL)
        except InvalidRecord as error:
            raise bad_request(str(error)) from None
        if record.type != "registration":
            raise bad_request(
                "type must be 'registration' on this endpoint; "
                f"send updates to /resources/v2/customerappprofile/{app_id}/events"
            )
        self.limit_rate(app_id, [record])

        outcome = self.server.db.apply(app_id, [record], format_timestamp(now))[0]
        profile = self.server.db.profile(app_id, record.device_id)
        status = HTTPStatus.CREATED if outcome.created else HTTPStatus.OK
        return status, {"event_id": record.event_id, "status": outcome.status, "profile": profile}, ()

    def get_profile(self, app_id, device_id, query):
        self.require_no_query(query)
        profile = self.server.db.profile(app_id, device_id)
        if profile is None:
            raise HttpError(
                HTTPStatus.NOT_FOUND,
                f"no profile for deviceId {device_id!r} in app {app_id!r}; "
                "register the device first or check the ids",
            )
        return HTTPStatus.OK, profile, ()

    def get_profiles(self, app_id, query):
        parameters = parse_query(query, ("limit", "after"))
        limit = parse_limit(parameters.get("limit"))
        after = parameters.get("after")
        if after is not None:
            after = query_id(after, "after")
        profiles, next_after = self.server.db.profiles(app_id, after, limit)
        return HTTPStatus.OK, {"profiles": profiles, "next": next_after}, ()

    # request body and limits

    def _declares_body(self):
        return bool(self.headers.get("Transfer-Encoding")) or self.headers.get(
            "Content-Length", "0"
        ).strip() not in ("", "0")

    def read_json_body(self):
        """Read the body within the size cap and parse it as one JSON object."""
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(
                HTTPStatus.LENGTH_REQUIRED,
                "Transfer-Encoding is not supported; send the body with a Content-Length header",
            )
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise HttpError(
                HTTPStatus.LENGTH_REQUIRED,
                "the Content-Length header is missing; send the body's size in bytes",
            )
        if len(set(value.strip() for value in lengths)) > 1:
            raise bad_request("the request has conflicting Content-Length headers; send one")
        text = lengths[0].strip()
        if CONTENT_LENGTH_PATTERN.fullmatch(text) is None:
            raise bad_request(
                f"Content-Length {shorten(text)} is not a non-negative integer; send the body's size in bytes"
            )
        length = int(text)
        if length > self.server.max_body:
            raise body_too_large(length, self.server.max_body)

        try:
            raw = self.rfile.read(length)
        except OSError as error:
            raise ClientGone(f"reading the body failed: {error}") from None
        if len(raw) < length:
            raise ClientGone(f"the body ended after {len(raw)} of {length} bytes")
        self.body_pending = False
        return parse_json_object(raw)

    def limit_rate(self, app_id, records):
        limiter = self.server.limiter
        if limiter is None or not records:
            return
        counts = {}
        for record in records:
            counts[record.device_id] = counts.get(record.device_id, 0) + 1
        wait = limiter.acquire(app_id, counts)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise HttpError(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"a device in this request sends more than {limiter.rate:g} events per second; "
                f"retry after {seconds} s",
                headers=[("Retry-After", str(seconds))],
            )


def parse_json_object(raw):
    """Decode a body as UTF-8 JSON and return it if it is an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(
            f"the body is not valid UTF-8 (invalid byte at offset {error.start}); encode it as UTF-8"
        ) from None
    try:
        body = json.loads(text, parse_constant=reject_constant, parse_float=parse_finite_float)
    except RecursionError:
        # The C decoder raises this on nesting near the interpreter's recursion
        # limit, before the structural checks can measure the depth.
        raise bad_request(
            f"the body nests JSON deeper than {MAX_NESTING} levels; flatten it"
        ) from None
    except (json.JSONDecodeError, InvalidNumber) as error:
        raise bad_request(f"the body is not valid JSON: {error}") from None
    except ValueError:
        # The only other ValueError of the decoder is int() refusing a long digit string.
        raise bad_request(
            f"the body contains an integer with more than {sys.get_int_max_str_digits()} "
            "digits; send it as a string"
        ) from None
    if not isinstance(body, dict):
        raise bad_request(f"the body must be a JSON object, got {type_name(body)}")
    return body


class InvalidNumber(ValueError):
    """A number that Python's json accepts but JSON does not: NaN, Infinity, or out of range."""


def reject_constant(name):
    raise InvalidNumber(f"{name} is not a JSON number")


def parse_finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise InvalidNumber(f"number {text[:40]} is out of range")
    return value


def split_path(raw_path):
    """Split a request path into percent-decoded segments.

    Rejects '.' and '..' segments, encoded slashes and control characters.
    """
    if not raw_path.startswith("/"):
        raise bad_request(f"request target {shorten(raw_path)} must be a path starting with '/'")
    segments = []
    for raw_segment in raw_path[1:].split("/"):
        try:
            segment = unquote(raw_segment, errors="strict")
        except UnicodeDecodeError:
            raise bad_request(
                f"path segment {shorten(raw_segment)} is not valid percent-encoded UTF-8"
            ) from None
        if "/" in segment or "\\" in segment:
            raise bad_request(f"path segment {shorten(raw_segment)} contains an encoded slash; remove it")
        if segment in (".", ".."):
            raise bad_request("the path contains a '.' or '..' segment; send the path without it")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in segment):
            raise bad_request(
                f"path segment {shorten(segment)} contains a control character; remove it"
            )
        segments.append(segment)
    return segments


def path_id(segment, name):
    try:
        return validate_id(segment, name)
    except InvalidRecord as error:
        raise bad_request(f"{error} (in the path)") from None


def query_id(value, name):
    try:
        return validate_id(value, name)
    except InvalidRecord as error:
        raise bad_request(f"{error} (in the query string)") from None


def parse_query(query, allowed):
    """Return the query parameters as a dict, rejecting unknown and repeated ones."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=10)
    except UnicodeDecodeError:
        raise bad_request("the query string is not valid percent-encoded UTF-8") from None
    except ValueError:
        raise bad_request("the query string has more than 10 parameters; send only limit and after")
    parameters = {}
    for name, value in pairs:
        if name not in allowed:
            raise bad_request(
                f"unknown query parameter {shorten(name)}; use {' and '.join(allowed)}"
            )
        if name in parameters:
            raise bad_request(f"query parameter {name} is repeated; send it once")
        parameters[name] = value
    return parameters


def parse_limit(text):
    if text is None:
        return DEFAULT_PAGE_SIZE
    # The length check keeps int() away from digit strings it refuses to convert.
    if len(text) > 4 or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise bad_request(
            f"limit {shorten(text)} is invalid; send an integer from 1 to {MAX_PAGE_SIZE}"
        )
    return int(text)


def first_rejection(payload):
    """Describe the first rejected record of an error payload, for the log."""
    for result in payload.get("results", ()):
        if result["status"] == "rejected":
            return f" (first: event_id {result['event_id']!r}: {result['reason']})"
    return ""


def rejected_result(raw, reason, code=None):
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    if not isinstance(event_id, str):
        event_id = None
    result = {"event_id": event_id, "status": "rejected", "reason": reason}
    if code is not None:
        result["code"] = code
    return result


def error_payload(status, reason):
    return {"error": {"status": int(status), "reason": reason}}


def bad_request(reason):
    return HttpError(HTTPStatus.BAD_REQUEST, reason)


def body_too_large(length, max_body):
    return HttpError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"the body is {length} bytes, more than the maximum of {max_body}; "
        f"send at most {MAX_RECORDS} records per request and smaller values",
    )


def not_found(raw_path):
    return HttpError(
        HTTPStatus.NOT_FOUND,
        f"no such path {shorten(raw_path)}; the API lives under "
        "/resources/v2/customerappprofile/{appId}/ (events, profiles)",
    )
