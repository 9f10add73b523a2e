"""The sandbox's S3: moto's S3 server behind a gate that acts like AWS's identity and archive rules.

moto stores the objects and speaks the S3 API. The gate in front of it adds what moto leaves out and
the provider must cope with: temporary keys that expire (``ExpiredToken``), keys that only read one
bucket in one region, presigned URLs that expire, GLACIER objects whose restore takes time, and the
sandbox's injected faults. It also serves object bodies the way S3 does: a ranged GET reads only its
range (moto reads the whole object for every request), bodies stream in chunks, and each may be paced
to one connection's bandwidth.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from werkzeug.serving import BaseWSGIServer, make_server

from airflow_asf_ifg.sandbox.config import BROWSE_BUCKET, PRODUCT_BUCKET

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_asf_ifg.sandbox.state import ArchiveClock, CredentialIssuer, FaultInjector, Stats

#: The sandbox's own key: the door signs download URLs with it and the catalogue is loaded with it.
ADMIN_ACCESS_KEY = "AKIASANDBOXADMIN0001"
ADMIN_SECRET_KEY = "sandbox-admin-secret-key"

_ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
_BODY_CHUNK = 1024 * 1024
#: A CompleteMultipartUpload slower than this is answered 200 at once and kept alive with a space this often.
_KEEP_ALIVE_SECONDS = 1.0
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Query parameters of a presigned URL; any other (versionId, partNumber, response-*) goes to moto.
_SIGNING_PARAMETERS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
        "Signature",
        "Expires",
    }
)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")


def _error(code: str, message: str, status: str, resource: str = "", bucket: str = "") -> tuple[str, bytes]:
    detail = f"<BucketName>{escape(bucket)}</BucketName>" if bucket else f"<Resource>{escape(resource)}</Resource>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"{detail}<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return status, body.encode()


def operation_name(method: str, bucket: str, key: str, query: dict[str, list[str]]) -> str:
    """The stats route name of an S3 request (``s3_get_object``, ``s3_restore_object``...).

    :param method: HTTP method.
    :param bucket: bucket from the path ('' for the service root).
    :param key: object key from the path ('' for bucket-level calls).
    :param query: parsed query string.
    """
    if not bucket:
        return "s3_list_buckets"
    if not key:
        return {
            "GET": "s3_list_objects",
            "HEAD": "s3_head_bucket",
            "PUT": "s3_create_bucket",
            "DELETE": "s3_delete_bucket",
        }.get(method, "s3_bucket_other")
    if method == "POST" and "restore" in query:
        return "s3_restore_object"
    if "uploadId" in query or "uploads" in query:
        return "s3_multipart"
    return {"GET": "s3_get_object", "HEAD": "s3_head_object", "PUT": "s3_put_object", "DELETE": "s3_delete_object"}.get(
        method, "s3_object_other"
    )


class S3Gate:
    """WSGI middleware in front of moto's S3 app.

    :param app: moto's S3 WSGI app.
    :param stats: request statistics.
    :param faults: fault draws.
    :param credentials: issued temporary keys.
    :param archive: retrieval clock.
    :param backend: returns moto's S3 backend (for storage classes and restore state).
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        stats: Stats,
        faults: FaultInjector,
        credentials: CredentialIssuer,
        archive: ArchiveClock,
        backend: Callable[[], Any],
    ) -> None:
        self._app = app
        self._stats = stats
        self._faults = faults
        self._credentials = credentials
        self._archive = archive
        self._backend = backend
        self._sync_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        operation = operation_name(method, bucket, key, query)
        self._stats.record(operation, environ.get("HTTP_HOST", ""), "HTTP_AUTHORIZATION" in environ)
        if self._faults.latency_seconds:
            time.sleep(self._faults.latency_seconds)

        fault = self._faults.draw()
        if fault == "throttle":
            self._stats.event("fault_throttle")
            return self._respond(
                start_response, method, *_error("SlowDown", "Please reduce your request rate.", "503 Slow Down")
            )
        if fault == "error":
            self._stats.event("fault_error")
            code = self._faults.error_status()
            status = "500 Internal Server Error" if code == 500 else "503 Service Unavailable"
            name = "InternalError" if code == 500 else "ServiceUnavailable"
            return self._respond(
                start_response, method, *_error(name, "We encountered an internal error. Please try again.", status)
            )

        denied = self._authorize(environ, query, method, bucket, key, operation)
        if denied is not None:
            return self._respond(start_response, method, *denied)

        if bucket and key:
            self._sync_archive_state(bucket, key)
        if operation == "s3_restore_object":
            return self._respond(start_response, method, *self._restore(environ, bucket, key))

        if method == "POST" and "uploadId" in query:  # CompleteMultipartUpload
            if self._faults.lost_completes.take():
                self._stats.event("fault_lost_answer")
                return _answer_lost(self._app, environ)
            return _complete_kept_alive(self._app, environ, start_response, self._faults.complete_seconds)
        if operation != "s3_get_object" or method != "GET":
            return self._app(environ, start_response)
        sent: dict[str, Any] = {}

        def noting_start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            sent["length"] = next((int(v) for k, v in headers if k.lower() == "content-length"), None)
            return start_response(status, headers, *rest)

        signed = "X-Amz-Signature" in query or "Signature" in query
        if signed and environ.get("HTTP_RANGE"):
            # A CDN refusing the signed URL part-way through a copy (ranges after the first byte): the client
            # must ask the door again.
            if not environ["HTTP_RANGE"].startswith("bytes=0-") and self._faults.forbids.take():
                self._stats.event("fault_forbidden_range")
                return self._respond(start_response, method, *_error("AccessDenied", "Access Denied", "403 Forbidden"))
            if self._faults.signed_url_ignores_range:  # a server that ignores Range: 200 and the whole object
                environ = {name: value for name, value in environ.items() if name != "HTTP_RANGE"}
        body: Iterable[bytes] | None = None
        if set(query) <= _SIGNING_PARAMETERS:
            body = self._stored_body(environ, bucket, key, noting_start_response)
        if body is None:
            body = self._app(environ, noting_start_response)
        if fault == "reset" or self._faults.resets.take():
            self._stats.event("fault_reset")
            body = _cut_off(body, environ, sent.get("length"))
        if self._faults.s3_body_bytes_per_second:
            body = _paced(body, self._faults.s3_body_bytes_per_second)
        return _counted(body, lambda count: self._stats.served(f"{bucket}/{key}", count))

    def _stored_body(
        self, environ: dict[str, Any], bucket: str, key: str, start_response: Callable[..., Any]
    ) -> Iterator[bytes] | None:
        """Answer a GET from the stored object, reading only the requested range; None leaves it to moto.

        moto answers the same request as a HEAD first, so status, headers and errors (conditions, a bad
        range) are moto's own; archived objects always go to moto for its InvalidObjectState.
        """
        stored = self._stored(bucket, key)
        if stored is None or stored.storage_class in _ARCHIVE_CLASSES:
            return None
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
            answer.update(status=status, headers=headers)
            return lambda _data: None

        for _ in self._app({**environ, "REQUEST_METHOD": "HEAD"}, capture):
            pass
        status, headers = answer["status"], answer["headers"]
        if not status.startswith(("200", "206")):
            return None
        fields = {name.lower(): value for name, value in headers}
        length = int(fields["content-length"])
        first = int(fields["content-range"].split()[1].split("-")[0]) if status.startswith("206") else 0
        start_response(status, _as_get_headers(headers, stored))
        return _read_stored(stored, first, length)

    @staticmethod
    def _respond(start_response: Callable[..., Any], method: str, status: str, body: bytes) -> list[bytes]:
        start_response(
            status,
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body))),
                ("x-amz-request-id", uuid.uuid4().hex[:16].upper()),
            ],
        )
        return [] if method == "HEAD" else [body]

    def _authorize(
        self, environ: dict[str, Any], query: dict[str, list[str]], method: str, bucket: str, key: str, operation: str
    ) -> tuple[str, bytes] | None:
        """Return an S3 error for a request AWS would refuse, or None to let it through."""
        resource = f"/{bucket}/{key}" if key else f"/{bucket}"
        credential = _credential_scope(environ, query)
        presigned_expiry = _presigned_expiry(query)
        if presigned_expiry is not None and datetime.now(UTC) > presigned_expiry:
            return _error("AccessDenied", "Request has expired", "403 Forbidden", resource)
        if credential is None:  # anonymous
            if bucket == BROWSE_BUCKET and method in ("GET", "HEAD") and key:
                return None
            return self._no_such_bucket(bucket, operation) or _error(
                "AccessDenied", "Access Denied", "403 Forbidden", resource
            )
        access_key, region = credential
        if access_key.startswith("ASIA"):
            return self._authorize_temporary(environ, query, access_key, region, bucket, operation, resource)
        missing = self._no_such_bucket(bucket, operation)
        if missing is not None or access_key == ADMIN_ACCESS_KEY:
            return missing
        if bucket == PRODUCT_BUCKET or (bucket == BROWSE_BUCKET and method not in ("GET", "HEAD")):
            return _error("AccessDenied", "Access Denied", "403 Forbidden", resource)
        return None

    def _authorize_temporary(
        self,
        environ: dict[str, Any],
        query: dict[str, list[str]],
        access_key: str,
        region: str,
        bucket: str,
        operation: str,
        resource: str,
    ) -> tuple[str, bytes] | None:
        issued = self._credentials.lookup(access_key)
        if issued is None:
            return _error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                "403 Forbidden",
                resource,
            )
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or query.get("X-Amz-Security-Token", [""])[0]
        if not token:
            return _error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                "403 Forbidden",
                resource,
            )
        if token != issued.session_token:
            return _error(
                "InvalidToken", "The provided token is malformed or otherwise invalid.", "400 Bad Request", resource
            )
        if datetime.now(UTC) >= issued.expiration:
            return _error("ExpiredToken", "The provided token has expired.", "400 Bad Request", resource)
        missing = self._no_such_bucket(bucket, operation)
        if missing is not None:
            return missing
        # ASF's policies grant s3:GetObject and s3:ListBucket on their bucket, and TEA's only in-region.
        readable = operation in ("s3_get_object", "s3_head_object", "s3_list_objects", "s3_head_bucket")
        if bucket not in issued.buckets or not readable or (issued.region and region != issued.region):
            return _error("AccessDenied", "Access Denied", "403 Forbidden", resource)
        return None

    def _no_such_bucket(self, bucket: str, operation: str) -> tuple[str, bytes] | None:
        """S3's 404 ``NoSuchBucket`` for a call on a bucket that does not exist, or None.

        S3 answers it to any signed or anonymous caller, before checking permissions (there is no bucket policy
        to check); a HEAD gets the status alone. moto would raise ``MissingBucket`` into the gate instead.

        :param bucket: bucket from the path ('' for the service root).
        :param operation: the stats route name (CreateBucket needs no existing bucket).
        """
        if not bucket or operation == "s3_create_bucket" or bucket in self._backend().buckets:
            return None
        return _error("NoSuchBucket", "The specified bucket does not exist", "404 Not Found", bucket=bucket)

    def _stored(self, bucket: str, key: str) -> Any:
        """moto's object, or None when it or its bucket does not exist (a bucket may go between checks)."""
        from moto.s3.exceptions import MissingBucket

        try:
            return self._backend().get_object(bucket, key)
        except MissingBucket:
            return None

    def set_storage_class(self, bucket: str, keys: list[str], storage_class: str) -> None:
        """Move objects to a storage class, without any restored copy (the sandbox's era switch).

        :param bucket: bucket name.
        :param keys: object keys; missing ones are skipped.
        :param storage_class: ``STANDARD``, ``GLACIER``...
        """
        with self._sync_lock:
            for key in keys:
                stored = self._stored(bucket, key)
                if stored is None:
                    continue
                stored.set_storage_class(storage_class)  # moto's FakeKey.storage_class is a read-only property
                stored.set_expiry(None)
                stored.status = None

    def _sync_archive_state(self, bucket: str, key: str) -> None:
        """Make moto's restore fields of a GLACIER object agree with the retrieval clock."""
        with self._sync_lock:
            stored = self._stored(bucket, key)
            if stored is None or stored.storage_class not in _ARCHIVE_CLASSES:
                return
            status = self._archive.status(bucket, key, stored.storage_class)
            if status.state == "archived":
                stored.set_expiry(None)
                stored.status = None
            elif status.state == "retrieving":
                stored.set_expiry(datetime.now(UTC) + timedelta(days=1))
                stored.status = "IN_PROGRESS"
            else:
                stored.set_expiry(status.restore_expiry)
                stored.status = "RESTORED"

    def _restore(self, environ: dict[str, Any], bucket: str, key: str) -> tuple[str, bytes]:
        """RestoreObject with S3's answers: 202 started, 409 in progress, 200 already restored."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request_body = environ["wsgi.input"].read(length).decode() if length else ""
        match = re.search(r"<Days>(\d+)</Days>", request_body)
        days = int(match.group(1)) if match else 1
        stored = self._stored(bucket, key)
        resource = f"/{bucket}/{key}"
        if stored is None:
            return _error("NoSuchKey", "The specified key does not exist.", "404 Not Found", resource)
        status = self._archive.status(bucket, key, stored.storage_class)
        if status.state == "available":
            return _error(
                "InvalidObjectState",
                "Restore is not allowed for the object's current storage class",
                "403 Forbidden",
                resource,
            )
        if status.state == "retrieving":
            return _error("RestoreAlreadyInProgress", "Object restore is already in progress", "409 Conflict", resource)
        if status.state == "restored":
            return "200 OK", b""
        self._archive.request(bucket, key, days)
        self._stats.event("retrieval_started")
        self._sync_archive_state(bucket, key)
        return "202 Accepted", b""


def _credential_scope(environ: dict[str, Any], query: dict[str, list[str]]) -> tuple[str, str] | None:
    """(access key id, region) from a SigV4 header or presigned query, or None when anonymous."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(header) if header else None
    if match:
        return match.group(1), match.group(2)
    if header.startswith("AWS "):  # SigV2: AWS AKID:signature
        return header[4:].split(":", 1)[0], ""
    scope = query.get("X-Amz-Credential", [""])[0].split("/")
    if len(scope) >= 3 and scope[0]:
        return scope[0], scope[2]
    if query.get("AWSAccessKeyId", [""])[0]:  # SigV2 presigned URL
        return query["AWSAccessKeyId"][0], ""
    return None


def _presigned_expiry(query: dict[str, list[str]]) -> datetime | None:
    if "AWSAccessKeyId" in query and "Expires" in query:  # SigV2: Expires is an epoch second
        try:
            return datetime.fromtimestamp(int(query["Expires"][0]), UTC)
        except ValueError:
            return datetime.fromtimestamp(0, UTC)
    if "X-Amz-Expires" not in query or "X-Amz-Date" not in query:
        return None
    try:
        signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return signed_at + timedelta(seconds=int(query["X-Amz-Expires"][0]))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _counted(body: Iterable[bytes], add: Callable[[int], None]) -> Iterator[bytes]:
    """Pass a body through, counting the bytes actually handed to the server for sending."""
    try:
        for chunk in body:
            add(len(chunk))
            yield chunk
    finally:
        if hasattr(body, "close"):
            body.close()


def _as_get_headers(headers: list[tuple[str, str]], stored: Any) -> list[tuple[str, str]]:
    """moto's HEAD headers as its GET sends them: a multipart object's checksum says how many parts it has.

    Without the ``-N``, botocore would check a composite checksum against the whole body, and fail.
    """
    if getattr(stored, "checksum_type", None) != "COMPOSITE":
        return headers
    qualified = []
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith("x-amz-checksum-") and lowered != "x-amz-checksum-type" and "-" not in value:
            value = f"{value}-{stored.checksum_parts}"
        qualified.append((name, value))
    return qualified


def _read_stored(stored: Any, first: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of a moto object from ``first``, a chunk at a time (moto's own lock held per read)."""
    position, end = first, first + length
    while position < end:
        with stored.lock:
            stored._value_buffer.seek(position)  # moto keeps each object in a spooled temporary file
            chunk = stored._value_buffer.read(min(_BODY_CHUNK, end - position))
        if not chunk:
            return
        position += len(chunk)
        yield chunk


def _paced(body: Iterable[bytes], bytes_per_second: float) -> Iterator[bytes]:
    """Pass a body through no faster than ``bytes_per_second``, as one connection's bandwidth allows."""
    started, sent = time.monotonic(), 0
    try:
        for chunk in body:
            for offset in range(0, len(chunk), _BODY_CHUNK):
                piece = chunk[offset : offset + _BODY_CHUNK]
                sent += len(piece)
                ahead = sent / bytes_per_second - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
                yield piece
    finally:
        if hasattr(body, "close"):
            body.close()


def _cut_off(body: Iterable[bytes], environ: dict[str, Any], length: int | None) -> Iterator[bytes]:
    """Send about half of a body, then drop the connection, as a reset mid-transfer does.

    :param body: the body.
    :param environ: the request's WSGI environ (for the socket).
    :param length: the body's Content-Length, when known (else the body is gathered to measure it).
    """
    if length is None:
        gathered = b"".join(body)
        body, length = [gathered], len(gathered)
    half, sent = max(1, length // 2), 0
    try:
        for chunk in body:
            piece = chunk[: half - sent]
            sent += len(piece)
            yield piece
            if sent >= half:
                break
    finally:
        if hasattr(body, "close"):
            body.close()
    _drop_connection(environ, "sandbox fault: connection reset mid-body")


def _drop_connection(environ: dict[str, Any], why: str) -> NoReturn:
    """Shut the request's socket, as a reset does, and end the answer with ``why``."""
    connection: socket.socket | None = environ.get("werkzeug.socket")
    if connection is not None:
        connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError(why)


def _complete_kept_alive(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Callable[..., Any], extra: float
) -> Iterable[bytes]:
    """Answer CompleteMultipartUpload as S3 does: at once when it is quick; else a 200 at once, a space every
    second while the object is joined (so no client's read timeout lapses), then the result or the error.

    moto answers only when it has joined the parts, which for gigabytes can outlast botocore's 60 s read
    timeout; botocore then sends the Complete again while the first still runs. S3 keeps the connection
    busy instead, and puts an error after a 200 in the body, which botocore reads as a 500.

    :param app: moto's S3 WSGI app.
    :param environ: the request's WSGI environ.
    :param start_response: the server's.
    :param extra: seconds added to the work (the ``complete_seconds`` setting).
    """
    done: dict[str, Any] = {}

    def join() -> None:
        try:
            done["body"] = _read_answer(
                app, environ, lambda status, headers, *_: done.update(status=status, headers=headers)
            )
            time.sleep(extra)
        except BaseException as error:  # handed to the server's thread, which answers it
            done["error"] = error

    worker = threading.Thread(target=join, name="sandbox-s3-complete", daemon=True)
    worker.start()
    worker.join(_KEEP_ALIVE_SECONDS)
    if not worker.is_alive():
        if "error" in done:
            raise done["error"]
        start_response(done["status"], done["headers"])
        return [done["body"]]
    start_response("200 OK", [("Content-Type", "application/xml"), ("x-amz-request-id", uuid.uuid4().hex[:16].upper())])
    return _kept_alive(worker, done)


def _kept_alive(worker: threading.Thread, done: dict[str, Any]) -> Iterator[bytes]:
    """The body of a Complete already answered 200: the XML declaration, spaces until the work is done, then
    the result, or S3's error document (moto's own, or an InternalError when moto raised)."""
    yield _XML_DECLARATION
    while worker.is_alive():
        worker.join(_KEEP_ALIVE_SECONDS)
        if worker.is_alive():
            yield b" "
    body: bytes = done.get("body", b"")
    if "error" in done or (not str(done.get("status", "")).startswith("200") and b"<Error>" not in body):
        body = _error("InternalError", "We encountered an internal error. Please try again.", "500")[1]
    yield re.sub(rb"^\s*<\?xml[^>]*\?>\s*", b"", body)  # the declaration went first


def _answer_lost(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Iterator[bytes]:
    """Carry the request out in full, then drop the connection before any of the answer is sent.

    :param app: moto's S3 WSGI app.
    :param environ: the request's WSGI environ (for the socket).
    """
    _read_answer(app, environ, lambda *_: None)
    _drop_connection(environ, "sandbox fault: the answer was lost")
    yield b""  # a generator, so the error comes as the server reads the body: after the work, before any byte


def _read_answer(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Callable[..., Any]
) -> bytes:
    """moto's whole answer to the request (moto does its work while it makes the body)."""
    answer = app(environ, start_response)
    try:
        return b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()


class S3Server:
    """moto's S3 behind :class:`S3Gate`, served from a thread on one loopback address.

    :param host: address to bind.
    :param port: port to bind (0 = free port).
    :param gate_factory: wraps moto's WSGI app in the gate.
    """

    def __init__(self, host: str, port: int, gate_factory: Callable[[Any], S3Gate]) -> None:
        from moto.moto_api import state_manager
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app

        # The sandbox decides when a restore finishes (ArchiveClock); stop moto from finishing it on read.
        state_manager.set_transition("s3::keyrestore", {"progression": "manual", "times": 2**62})

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                """Keep the sandbox's output to its own lines (no access log per request)."""

        self._server: BaseWSGIServer = make_server(
            host, port, gate_factory(create_backend_app("s3")), threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-s3", daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_address[1]

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def moto_backend() -> Any:
    """moto's S3 backend for the default account, where the server keeps its buckets."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
