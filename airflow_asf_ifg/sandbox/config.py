"""Settings of one sandbox run: era, catalogue size, credential lifetime, retrieval time and fault rates."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

#: Login of the sandbox's Earthdata Login user who has accepted every EULA.
SANDBOX_USER = "sandbox_user"
SANDBOX_PASSWORD = "sandbox-password"
#: A user who has not approved the ASF application (EULA), for testing that failure.
NO_EULA_USER = "no_eula_user"
NO_EULA_PASSWORD = "no-eula-password"

#: Destination-side keys printed in AIRFLOW_CONN_AWS_DEFAULT; any non-ASF key may write users' buckets.
USER_ACCESS_KEY = "AKIASANDBOXUSER00001"
USER_SECRET_KEY = "sandbox-user-secret-key"

PRODUCT_BUCKET = "grfn-content-prod"
BROWSE_BUCKET = "grfn-public-prod"

# S3 bucket naming rules (AWS "Bucket naming rules"), for the buckets ``--bucket`` creates.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: Addresses that listen everywhere and so cannot be handed out in URLs.
WILDCARD_HOSTS = ("0.0.0.0", "")
#: The services as they are now (``today``) and as the 2018 seed page knew them (``2018``): see ``era``.
ERAS = ("today", "2018")


@dataclass
class SandboxConfig:
    """Knobs of the sandbox, the same as the flags of ``python -m airflow_asf_ifg.sandbox serve``.

    :param era: which services to be (runtime setting). ``today``: GUNW over HTTPS only, through the door's
        EDL cookie and 15-second signed URLs; ``/door/credentials`` 410 Gone, no ``/door/status``, nothing in
        GLACIER (grfn-distribution ``routes.py``). ``2018``: the seed page's door behind mod_auth_urs, with
        ``/door/status``, 202 retrievals, STS keys at ``/door/credentials`` and GLACIER objects.
    :param tea: opt in to TEA direct access (runtime setting): ARIA_S1_GUNW records also list an ``s3://``
        link and ``/s3credentials``, which then serves in-region us-west-2 keys, as for Cumulus-served
        collections. Off, ``/s3credentials`` is not on the door (404), as for GRFN today.
    :param port: port for every service (each has its own loopback address); with ``host``, the first of four
        consecutive ports (CMR, EDL, door/TEA, S3); 0 picks free ports.
    :param host: listen on this one address (e.g. 0.0.0.0 in a container) instead of the four loopback
        addresses, each service on its own port.
    :param public_host: host name in every URL the sandbox hands out (CMR records, redirects, connections),
        e.g. the docker compose service name; needs ``host``; default ``host``.
    :param buckets: empty buckets created in the sandbox's S3 at start, e.g. a DAG's destination.
    :param seed: seed of the catalogue and of the per-request fault draws.
    :param granules: number of granules per collection.
    :param product_bytes: approximate size of each product file.
    :param credential_ttl: lifetime in seconds of the temporary S3 credentials.
    :param retrieval_seconds: time an archived product takes to be retrieved.
    :param archived_fraction: share of products that start in GLACIER storage.
    :param credentials_gone: make the 2018 era's ``/door/credentials`` answer 410 Gone, as it has since 2020
        (runtime setting; in the ``today`` era it always does).
    :param fault_rate: share of requests answered 500/503.
    :param throttle_rate: share of requests answered 429 (503 SlowDown on S3).
    :param reset_rate: share of bodies cut off by a connection reset part-way through.
    :param latency_ms: delay added to every request.
    :param s3_connection_mib_s: pace of each S3 object body in MiB/s, as one connection to S3 gets (AWS
        advises concurrent ranged GETs for a higher aggregate); 0 = as fast as the loopback goes.
    :param metadata_only: serve CMR records without building product bytes (for large catalogues);
        sizes and MD5s are then synthetic and the door and S3 hold no products.
    :param cmr_timed_out: mark granule searches ``CMR-Timed-Out: true`` and cut each page in half, as
        CMR does when its query times out (runtime setting).
    :param cmr_hits_surplus: add this to ``CMR-Hits``, as when granules vanish while a client pages
        (runtime setting).
    :param cmr_page_overlap: start each Search-After page with the previous page's last granule, as when
        granules are ingested while a client pages (runtime setting).
    :param reset_next: cut off the next N S3 object bodies half-way, whatever the rates (runtime setting).
    :param download_url_seconds: lifetime of the signed URLs the door redirects downloads to (15, as the
        door's CloudFront URLs: grfn-distribution routes.py EXPIRE_TIME_IN_SECONDS; runtime setting).
    :param signed_url_ignores_range: answer GETs of signed URLs with 200 and the whole object even when they
        ask for a ``Range``, as a server that ignores it (runtime setting).
    :param forbid_next_range: answer the next N ranged GETs of signed URLs that start past the first byte
        with 403, as a CDN refusing a signed URL part-way through a copy (runtime setting).
    :param lose_next_complete: carry out the next N CompleteMultipartUpload requests, then drop the connection
        before answering, as a network that loses the answer (or a client that stops waiting) does (runtime
        setting).
    :param complete_seconds: time added to each CompleteMultipartUpload, as S3 takes up to minutes to join a
        large object; the answer is kept alive meanwhile, as S3 does (runtime setting).
    """

    era: str = "today"
    tea: bool = False
    port: int = 0
    host: str | None = None
    public_host: str | None = None
    buckets: tuple[str, ...] = ()
    seed: int = 2018
    granules: int = 12
    product_bytes: int = 256 * 1024
    credential_ttl: float = 3600.0
    retrieval_seconds: float = 5.0
    archived_fraction: float = 0.25
    credentials_gone: bool = False
    fault_rate: float = 0.0
    throttle_rate: float = 0.0
    reset_rate: float = 0.0
    latency_ms: int = 0
    s3_connection_mib_s: float = 0.0
    metadata_only: bool = False
    cmr_timed_out: bool = False
    cmr_hits_surplus: int = 0
    cmr_page_overlap: bool = False
    reset_next: int = 0
    download_url_seconds: int = 15
    signed_url_ignores_range: bool = False
    forbid_next_range: int = 0
    lose_next_complete: int = 0
    complete_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.buckets = tuple(self.buckets)
        if isinstance(self.era, int) and not isinstance(self.era, bool):
            self.era = str(self.era)  # era=2018 from JSON or a marker means the 2018 era
        self.validate()

    def validate(self) -> None:
        """Reject values the sandbox cannot honour, naming the value and the accepted range."""
        if self.era not in ERAS:
            raise ValueError(f"era {self.era!r} is not one the sandbox knows; accepted: {', '.join(ERAS)}")
        if not isinstance(self.tea, bool):
            raise ValueError(f"tea {self.tea!r} must be true or false")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range; give 0 (free ports) or 1-65535")
        if self.host is not None and self.port > 65535 - 3:
            raise ValueError(
                f"port {self.port} is too high: with host, the services take ports {self.port} to "
                f"{self.port + 3}; give at most 65532"
            )
        if self.public_host is not None and self.host is None:
            raise ValueError(
                f"public_host {self.public_host!r} needs host: on the four loopback addresses each "
                f"service has its own address, so one public host name cannot reach them all"
            )
        if self.host in WILDCARD_HOSTS and not self.public_host:
            raise ValueError(
                f"host {self.host!r} listens on every address but is no address to hand out in URLs; "
                f"give public_host, the name clients reach the sandbox by"
            )
        for bucket in self.buckets:
            if not _BUCKET_NAME.fullmatch(bucket) or bucket in (PRODUCT_BUCKET, BROWSE_BUCKET):
                raise ValueError(
                    f"bucket {bucket!r} must follow S3's naming rules (3-63 of a-z 0-9 . -) and not "
                    f"be ASF's {PRODUCT_BUCKET} or {BROWSE_BUCKET}"
                )
        if self.granules < 1:
            raise ValueError(f"granules {self.granules} must be at least 1")
        if self.product_bytes < 1024:
            raise ValueError(f"product_bytes {self.product_bytes} must be at least 1024")
        for name in ("credential_ttl", "retrieval_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} {getattr(self, name)} must be greater than 0 seconds")
        for name in ("archived_fraction", "fault_rate", "throttle_rate", "reset_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value} must be between 0 and 1")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms {self.latency_ms} must not be negative")
        if self.s3_connection_mib_s < 0:
            raise ValueError(f"s3_connection_mib_s {self.s3_connection_mib_s} must not be negative (0 = unpaced)")
        if self.reset_next < 0:
            raise ValueError(f"reset_next {self.reset_next} must not be negative")
        if self.forbid_next_range < 0:
            raise ValueError(f"forbid_next_range {self.forbid_next_range} must not be negative")
        if self.lose_next_complete < 0:
            raise ValueError(f"lose_next_complete {self.lose_next_complete} must not be negative")
        if self.complete_seconds < 0:
            raise ValueError(f"complete_seconds {self.complete_seconds} must not be negative")
        if not isinstance(self.download_url_seconds, int) or self.download_url_seconds < 1:
            raise ValueError(
                f"download_url_seconds {self.download_url_seconds!r} must be a whole number of seconds >= 1"
            )
        if not isinstance(self.signed_url_ignores_range, bool):
            raise ValueError(f"signed_url_ignores_range {self.signed_url_ignores_range!r} must be true or false")
        if self.cmr_hits_surplus < 0:
            raise ValueError(f"cmr_hits_surplus {self.cmr_hits_surplus} must not be negative")

    #: Settings that may change while the sandbox runs (``POST /__sandbox__/config``).
    RUNTIME_FIELDS = (
        "era",
        "tea",
        "credential_ttl",
        "retrieval_seconds",
        "credentials_gone",
        "fault_rate",
        "throttle_rate",
        "reset_rate",
        "latency_ms",
        "s3_connection_mib_s",
        "cmr_timed_out",
        "cmr_hits_surplus",
        "cmr_page_overlap",
        "reset_next",
        "download_url_seconds",
        "signed_url_ignores_range",
        "forbid_next_range",
        "lose_next_complete",
        "complete_seconds",
    )

    def updated(self, changes: dict[str, object]) -> SandboxConfig:
        """Return a copy with runtime settings changed; unknown or fixed names raise ValueError.

        :param changes: setting name → new value.
        """
        unknown = sorted(set(changes) - set(self.RUNTIME_FIELDS))
        if unknown:
            raise ValueError(f"cannot change {unknown} at runtime; accepted: {list(self.RUNTIME_FIELDS)}")
        # The values are checked by validate() (run by __post_init__ on the copy), not by their static types.
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
