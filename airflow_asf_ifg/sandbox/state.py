"""What the sandbox's services share: request statistics, fault draws, issued S3 credentials, retrievals.

Every piece is thread-safe: the HTTP services run on an asyncio loop in one thread and the S3 server
answers from its own threads.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_asf_ifg.sandbox.config import SandboxConfig


class Stats:
    """Counts requests per route and records which hosts received an ``Authorization`` header."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._authorization: defaultdict[str, set[str]] = defaultdict(set)
        self._events: Counter[str] = Counter()
        self._bytes_served: Counter[str] = Counter()

    def record(self, route: str, host: str, has_authorization: bool) -> None:
        """Count one request.

        :param route: the route name (``cmr_granules``, ``edl_authorize``, ``s3_get_object``...).
        :param host: the ``host:port`` that received it.
        :param has_authorization: whether the request carried an ``Authorization`` header.
        """
        with self._lock:
            self._requests[route] += 1
            if has_authorization:
                self._authorization[route].add(host)

    def event(self, name: str) -> None:
        """Count a notable event (credentials issued, retrieval started, fault injected).

        :param name: the event name.
        """
        with self._lock:
            self._events[name] += 1

    def served(self, key: str, count: int) -> None:
        """Count bytes of an object's body sent to a client (GetObject, ranged or whole).

        :param key: ``bucket/key``.
        :param count: bytes sent.
        """
        with self._lock:
            self._bytes_served[key] += count

    def snapshot(self) -> dict[str, object]:
        """The JSON document served at ``/__sandbox__/stats``."""
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "authorization": {route: sorted(hosts) for route, hosts in sorted(self._authorization.items())},
                "events": dict(sorted(self._events.items())),
                "bytes_served": dict(sorted(self._bytes_served.items())),
            }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._requests.clear()
            self._authorization.clear()
            self._events.clear()
            self._bytes_served.clear()


class Countdown:
    """A number of faults armed for the next requests, used up one at a time, whatever the rates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left = 0

    def arm(self, count: int) -> None:
        """Fault the next ``count`` requests (replacing what was armed).

        :param count: how many.
        """
        with self._lock:
            self._left = count

    def take(self) -> bool:
        """Whether to fault this request (uses one up)."""
        with self._lock:
            if self._left > 0:
                self._left -= 1
                return True
            return False


class FaultInjector:
    """Draws, per request, whether to answer with a fault; the draws follow from the seed.

    :param seed: seed of the draw sequence.
    :param config: returns the current settings (they may change while running).
    """

    def __init__(self, seed: int, config: Callable[[], SandboxConfig]) -> None:
        self._random = random.Random(seed ^ 0x5A5A)
        self._lock = threading.Lock()
        self._config = config
        #: Object bodies to cut off next, whatever the rates (``reset_next``).
        self.resets = Countdown()
        #: Ranged GETs of signed URLs past their first byte to refuse next (``forbid_next_range``).
        self.forbids = Countdown()
        #: CompleteMultipartUploads whose answer to lose next (``lose_next_complete``).
        self.lost_completes = Countdown()

    def draw(self) -> str | None:
        """``"throttle"``, ``"error"``, ``"reset"`` or None, by the configured rates."""
        config = self._config()
        with self._lock:
            value = self._random.random()
        for kind, rate in (
            ("throttle", config.throttle_rate),
            ("error", config.fault_rate),
            ("reset", config.reset_rate),
        ):
            if value < rate:
                return kind
            value -= rate
        return None

    @property
    def signed_url_ignores_range(self) -> bool:
        """Whether signed URLs answer a ranged GET with the whole object."""
        return self._config().signed_url_ignores_range

    def error_status(self) -> int:
        """500 or 503, as the services answer when they fail."""
        with self._lock:
            return 500 if self._random.random() < 0.5 else 503

    @property
    def latency_seconds(self) -> float:
        """Delay to add before answering."""
        return self._config().latency_ms / 1000.0

    @property
    def complete_seconds(self) -> float:
        """Time added to each CompleteMultipartUpload."""
        return self._config().complete_seconds

    @property
    def s3_body_bytes_per_second(self) -> float:
        """Pace of each S3 object body (0: unpaced)."""
        return self._config().s3_connection_mib_s * 1024 * 1024


@dataclass(frozen=True)
class IssuedCredentials:
    """Temporary S3 keys handed out by the door or TEA.

    :param access_key_id: the key id (``ASIA...``).
    :param secret_access_key: the secret.
    :param session_token: the session token S3 requires with the key.
    :param expiration: when S3 stops accepting them.
    :param user: the EDL user they were issued to.
    :param buckets: buckets they may read.
    :param region: the only region they may be used in, or None for any.
    """

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    user: str
    buckets: tuple[str, ...]
    region: str | None


class CredentialIssuer:
    """Issues STS-style temporary keys and answers S3's questions about them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, IssuedCredentials] = {}

    def issue(self, user: str, ttl_seconds: float, buckets: tuple[str, ...], region: str | None) -> IssuedCredentials:
        """Make a new key set valid for ``ttl_seconds``.

        :param user: the EDL user.
        :param ttl_seconds: lifetime.
        :param buckets: buckets they may read.
        :param region: the only region they may be used in, or None.
        """
        alphabet = string.ascii_uppercase + string.digits
        issued = IssuedCredentials(
            access_key_id="ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
            secret_access_key=secrets.token_urlsafe(30),
            session_token="FwoGZXIvYXdzE" + secrets.token_urlsafe(96),
            # Whole seconds, as STS publishes them: the expiry S3 enforces is the one the client reads.
            expiration=(datetime.now(UTC) + timedelta(seconds=ttl_seconds)).replace(microsecond=0),
            user=user,
            buckets=buckets,
            region=region,
        )
        with self._lock:
            self._issued[issued.access_key_id] = issued
        return issued

    def issued(self) -> list[IssuedCredentials]:
        """Every key set handed out so far (tests search logs and XCom for their secrets)."""
        with self._lock:
            return list(self._issued.values())

    def lookup(self, access_key_id: str) -> IssuedCredentials | None:
        """The issued set with this key id, or None.

        :param access_key_id: the key id from a request's signature.
        """
        with self._lock:
            return self._issued.get(access_key_id)


@dataclass(frozen=True)
class ArchiveStatus:
    """Where an object stands in long-term storage.

    :param state: ``available``, ``archived``, ``retrieving`` or ``restored``.
    :param restore_expiry: when a restored copy goes away (``restored`` only).
    """

    state: str
    restore_expiry: datetime | None = None


class ArchiveClock:
    """Retrievals from GLACIER: started by the door or RestoreObject, finished after a set time.

    :param retrieval_seconds: returns the current retrieval duration.
    """

    def __init__(self, retrieval_seconds: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], tuple[float, int]] = {}
        self._retrieval_seconds = retrieval_seconds

    def status(self, bucket: str, key: str, storage_class: str | None) -> ArchiveStatus:
        """The archive status of an object with the given storage class.

        :param bucket: bucket name.
        :param key: object key.
        :param storage_class: the object's storage class (``STANDARD``, ``GLACIER``...; None means STANDARD).
        """
        if storage_class not in ("GLACIER", "DEEP_ARCHIVE"):
            return ArchiveStatus("available")
        with self._lock:
            request = self._requests.get((bucket, key))
        if request is None:
            return ArchiveStatus("archived")
        started, days = request
        done = started + self._retrieval_seconds()
        now = time.time()
        if now < done:
            return ArchiveStatus("retrieving")
        expiry = datetime.fromtimestamp(done, UTC) + timedelta(days=days)
        # S3 reports the expiry rounded up to the next midnight UTC (S3 restore docs).
        expiry = (expiry + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        if datetime.now(UTC) >= expiry:
            with self._lock:
                self._requests.pop((bucket, key), None)
            return ArchiveStatus("archived")
        return ArchiveStatus("restored", expiry)

    def reset(self) -> None:
        """Forget every retrieval: archived objects are archived again."""
        with self._lock:
            self._requests.clear()

    def request(self, bucket: str, key: str, days: int) -> bool:
        """Start a retrieval unless one is running or done; return whether one was started.

        :param bucket: bucket name.
        :param key: object key.
        :param days: how long the restored copy is kept.
        """
        with self._lock:
            if (bucket, key) in self._requests:
                return False
            self._requests[(bucket, key)] = (time.time(), days)
            return True
