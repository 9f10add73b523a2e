"""Start and stop the whole sandbox: CMR and control routes, EDL, the ASF door/TEA and S3, each on its own address."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from airflow_asf_ifg.client import geometry
from airflow_asf_ifg.sandbox import asf, cmr, edl, products
from airflow_asf_ifg.sandbox.catalogue import CatalogueFile, Granule, build_catalogue, new_granule
from airflow_asf_ifg.sandbox.config import (
    BROWSE_BUCKET,
    PRODUCT_BUCKET,
    SANDBOX_PASSWORD,
    SANDBOX_USER,
    USER_ACCESS_KEY,
    USER_SECRET_KEY,
    SandboxConfig,
)
from airflow_asf_ifg.sandbox.records import Urls
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, S3Gate, S3Server, moto_backend
from airflow_asf_ifg.sandbox.state import ArchiveClock, CredentialIssuer, FaultInjector, Stats
from airflow_asf_ifg.sandbox.web import service_middleware

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Each service on its own loopback address, as the real ones have their own hosts.
HOSTS = {"cmr": "127.0.0.1", "edl": "127.0.0.2", "asf": "127.0.0.3", "s3": "127.0.0.4"}
REGION = "us-east-1"

log = logging.getLogger(__name__)

# moto keeps S3 in module-level state, so two sandboxes in one process would share buckets.
_RUNNING = threading.Lock()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port or 0 for free ports"
        ) from error
    sock.listen(128)
    return sock


class Sandbox:
    """The offline stand-in for CMR, Earthdata Login, the ASF door/TEA and S3, running in this process.

    Use it as a context manager; ``urls``, ``earthdata_connection()`` and ``aws_connection()`` say how to
    reach it. It answers as the services of its ``era`` do (``today`` by default, or ``2018``), which
    ``update_config`` may switch while it runs.

    :param config: the settings; keyword arguments override single fields.
    :param overrides: field=value for :class:`SandboxConfig`.
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        base = config or SandboxConfig()
        self.config = SandboxConfig(**{**base.__dict__, **overrides})
        self.stats = Stats()
        self.faults = FaultInjector(self.config.seed, lambda: self.config)
        self.credentials = CredentialIssuer()
        self._edl: edl.Directory | None = None
        self.archive = ArchiveClock(lambda: self.config.retrieval_seconds)
        self.catalogue: list[Granule] = []
        self.urls: Urls | None = None
        self._sockets: dict[str, socket.socket] = {}
        self._s3: S3Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._door: asf.AsfDoor | None = None
        self._s3_gate: S3Gate | None = None
        self._holds_lock = False
        #: GranuleUR → (product file, revision date, revision id) before its first :meth:`revise`.
        self._originals: dict[str, tuple[CatalogueFile, datetime, int]] = {}
        #: Granules added by :meth:`publish` (removed by :meth:`reset`).
        self._published: list[Granule] = []

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Sandbox:
        """Bind every service, load the catalogue into S3 and start serving; return self."""
        if not _RUNNING.acquire(blocking=False):
            raise RuntimeError(
                "another Sandbox is running in this process (they would share moto's S3); "
                "stop it first, or run this one as `python -m airflow_asf_ifg.sandbox serve`"
            )
        self._holds_lock = True
        try:
            addresses = self._addresses()
            for name in ("cmr", "edl", "asf"):
                self._sockets[name] = _bind(*addresses[name])
            self._s3 = S3Server(*addresses["s3"], self._gate)
            ports = {name: sock.getsockname()[1] for name, sock in self._sockets.items()}
            ports["s3"] = self._s3.port
            # The URLs the sandbox hands out (records, redirects, presigned URLs, connections) name the public
            # host when there is one: a container's 0.0.0.0 is reached by its compose service name.
            public = {name: self.config.public_host or host for name, (host, _) in addresses.items()}
            base = {name: f"http://{public[name]}:{ports[name]}" for name in HOSTS}
            self.urls = Urls(sandbox=base["cmr"], cmr=base["cmr"], edl=base["edl"], asf=base["asf"], s3=base["s3"])
            self._s3.start()
            self._load_catalogue()
            self._start_http()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service; safe to call twice."""
        if self._loop is not None and self._thread is not None:
            future = asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._loop = None
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        if self._holds_lock:
            self._holds_lock = False
            _RUNNING.release()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- what users read
    def earthdata_connection(self) -> dict[str, Any]:
        """The ``earthdata`` connection (Airflow JSON form) of the sandbox's EDL user and the era's endpoints.

        Today a real connection needs only login and password (the records name the door, and with ``tea``
        ``/s3credentials``); the extras only point at the sandbox's hosts. The 2018 connection also names the
        door's credentials and status endpoints, or TEA's when the door's credentials are gone.
        """
        urls = self._urls()
        extra: dict[str, str] = {"edl_url": urls.edl, "cmr_url": urls.cmr}
        if self.config.era == "2018":
            gone = self.config.credentials_gone and self.config.tea
            extra["s3_credentials_url"] = f"{urls.asf}/s3credentials" if gone else f"{urls.asf}/door/credentials"
            extra["archive_status_url"] = f"{urls.asf}/door/status/{{name}}"
        extra["s3_endpoint_url"] = urls.s3
        return {"conn_type": "earthdata", "login": SANDBOX_USER, "password": SANDBOX_PASSWORD, "extra": extra}

    def aws_connection(self) -> dict[str, Any]:
        """The ``aws`` connection (Airflow JSON form) for buckets on the sandbox's S3."""
        return {
            "conn_type": "aws",
            "login": USER_ACCESS_KEY,
            "password": USER_SECRET_KEY,
            "extra": {"endpoint_url": self._urls().s3, "region_name": REGION},
        }

    def environment(self) -> dict[str, str]:
        """The lines ``serve`` prints: every URL and both Airflow connections."""
        urls = self._urls()
        return {
            "SANDBOX_URL": urls.sandbox,
            "CMR_URL": urls.cmr,
            "EDL_URL": urls.edl,
            "ASF_URL": urls.asf,
            "S3_URL": urls.s3,
            "AIRFLOW_CONN_EARTHDATA_DEFAULT": json.dumps(self.earthdata_connection(), separators=(",", ":")),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(self.aws_connection(), separators=(",", ":")),
        }

    @contextlib.contextmanager
    def connections(self) -> Iterator[dict[str, str]]:
        """Set ``AIRFLOW_CONN_EARTHDATA_DEFAULT`` and ``AIRFLOW_CONN_AWS_DEFAULT`` while inside the block."""
        names = ("AIRFLOW_CONN_EARTHDATA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT")
        saved = {name: os.environ.get(name) for name in names}
        values = {name: self.environment()[name] for name in names}
        os.environ.update(values)
        try:
            yield values
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def issued_secrets(self) -> list[str]:
        """Every secret the sandbox knows or handed out (EDL passwords, sessions and tokens, temporary S3 keys and
        session tokens), for tests that check none reached a log, XCom or trigger."""
        issued = [value for keys in self.credentials.issued() for value in (keys.secret_access_key, keys.session_token)]
        return [*(self._edl.issued_secrets() if self._edl else []), *issued]

    def catalogue_document(self) -> list[dict[str, Any]]:
        """Every granule with its files, sizes, MD5s and URLs (served at ``/__sandbox__/catalogue``); ``archived``
        as in the current era (never today)."""
        urls = self._urls()
        archiving = self.config.era == "2018"
        return [
            {
                "concept_id": g.concept_id,
                "collection_concept_id": g.collection.concept_id,
                "short_name": g.collection.short_name,
                "granule_ur": g.granule_ur,
                "start": g.start.isoformat(),
                "end": g.end.isoformat(),
                "revision_date": g.revision_date.isoformat(),
                "revision_id": g.revision_id,
                "footprint": g.footprint,
                "files": [
                    {
                        "name": f.name,
                        "role": f.role,
                        "bucket": f.bucket,
                        "key": f.name,
                        "size": g.sizes[f.name][0],
                        "md5": g.sizes[f.name][1],
                        "archived": archiving and f.archived,
                        "url": urls.file_url(f.bucket, f.name, f.role),
                    }
                    for f in g.files
                ],
            }
            for g in self.catalogue
        ]

    def update_config(self, changes: dict[str, Any]) -> SandboxConfig:
        """Change runtime settings (era, fault rates, credential lifetime, retrieval time...); a new era gives
        the product objects its storage classes and forgets every retrieval.

        :param changes: field name → new value.
        """
        previous = self.config
        self.config = self.config.updated(changes)
        if "reset_next" in changes:
            self.faults.resets.arm(self.config.reset_next)
        if "forbid_next_range" in changes:
            self.faults.forbids.arm(self.config.forbid_next_range)
        if "lose_next_complete" in changes:
            self.faults.lost_completes.arm(self.config.lose_next_complete)
        if self.config.era != previous.era:
            self._apply_era()
        return self.config

    def reset(self) -> None:
        """Zero the stats, forget every retrieval (archived products are archived again) and undo every
        :meth:`revise`, so the catalogue is as it started."""
        self.stats.reset()
        self.archive.reset()
        backend = moto_backend()
        for granule in self._published:
            self.catalogue.remove(granule)
            for catalogue_file in granule.files:
                backend.delete_object(catalogue_file.bucket, catalogue_file.name)
        self._published.clear()
        for granule in self.catalogue:
            if granule.granule_ur in self._originals:
                product, granule.revision_date, granule.revision_id = self._originals.pop(granule.granule_ur)
                granule.files[0] = product
                self._store(granule, product, self.config.product_bytes, product.archived and self.config.era == "2018")

    # ---------------------------------------------------------------- internals
    def _addresses(self) -> dict[str, tuple[str, int]]:
        """(address, port) each service binds: its own loopback address on ``port``, or with ``host`` that one
        address on consecutive ports from ``port`` (CMR, EDL, door/TEA, S3; all free ports when 0)."""
        host, port = self.config.host, self.config.port
        if host is None:
            return {name: (address, port) for name, address in HOSTS.items()}
        return {name: (host, port + offset if port else 0) for offset, name in enumerate(HOSTS)}

    def _urls(self) -> Urls:
        if self.urls is None:
            raise RuntimeError("the sandbox is not started; call start() or use it in a with block")
        return self.urls

    def _gate(self, app: Any) -> S3Gate:
        self._s3_gate = S3Gate(app, self.stats, self.faults, self.credentials, self.archive, moto_backend)
        return self._s3_gate

    def _archived_keys(self) -> list[str]:
        """Product keys that are in GLACIER in the 2018 era."""
        return [f.name for g in self.catalogue for f in g.files if f.archived and f.bucket == PRODUCT_BUCKET]

    def _apply_era(self) -> None:
        """Give the catalogue's archived products the era's storage class (2018: GLACIER; today: STANDARD, as
        Glacier serving was retired in 2019) and forget every retrieval."""
        if self._s3_gate is not None and not self.config.metadata_only:
            self._s3_gate.set_storage_class(
                PRODUCT_BUCKET, self._archived_keys(), "GLACIER" if self.config.era == "2018" else "STANDARD"
            )
        self.archive.reset()

    def _load_catalogue(self) -> None:

        backend = moto_backend()
        backend.reset()  # a fresh S3 for each sandbox started in this process
        # ASF's buckets, then the users' own (e.g. a DAG's destination), which a sandbox in a container needs
        # at every start: its S3 lives in memory, so nothing made by a client survives a restart.
        for bucket in (PRODUCT_BUCKET, BROWSE_BUCKET, *self.config.buckets):
            if bucket not in backend.buckets:
                backend.create_bucket(bucket, REGION)
        self.catalogue = build_catalogue(self.config.seed, self.config.granules, self.config.archived_fraction)
        archiving = self.config.era == "2018"  # in the 2018 era archived products start in GLACIER
        if self.config.metadata_only:
            for granule in self.catalogue:
                for catalogue_file in granule.files:
                    digest = hashlib.md5(catalogue_file.name.encode(), usedforsecurity=False).hexdigest()
                    granule.sizes[catalogue_file.name] = (self.config.product_bytes, digest)
            return
        for granule in self.catalogue:
            for catalogue_file in granule.files:
                self._store(
                    granule, catalogue_file, self.config.product_bytes, archived=catalogue_file.archived and archiving
                )

    def _store(self, granule: Granule, catalogue_file: CatalogueFile, product_bytes: int, archived: bool) -> None:
        """Build one file's bytes from its seed, put them in the sandbox's S3 and note its size and MD5.

        :param granule: the granule.
        :param catalogue_file: one of its files.
        :param product_bytes: the size of a product (browse images and metadata have their own).
        :param archived: put it in GLACIER storage.
        """
        from moto.s3.models import get_canned_acl

        backend = moto_backend()
        bounds = geometry.bounds(granule.footprint)
        if catalogue_file.role == "data" and granule.collection.is_beta:
            built = products.build_file(
                products.write_beta_zip,
                granule.producer_granule_id,
                bounds,
                product_bytes,
                catalogue_file.seed,
                granule.revision_date.timetuple()[:6],
            )
        elif catalogue_file.role == "data":
            built = products.build_file(
                products.write_gunw_netcdf, granule.granule_ur, bounds, product_bytes, catalogue_file.seed
            )
        elif catalogue_file.role == "browse":
            built = products.build_file(products.write_png, catalogue_file.seed)
        else:
            built = products.build_file(_write_metadata, granule)
        try:
            with open(built.path, "rb") as handle:
                stored = backend.put_object(
                    catalogue_file.bucket, catalogue_file.name, handle.read(), storage="GLACIER" if archived else None
                )
            if catalogue_file.bucket == BROWSE_BUCKET:  # grfn-public-prod is public, as ASF's is
                stored.set_acl(get_canned_acl("public-read"))
        finally:
            os.unlink(built.path)
        granule.sizes[catalogue_file.name] = (built.size, built.md5)

    def publish(self, like: str, start: datetime | None = None, product_bytes: int | None = None) -> Granule:
        """Publish a new granule while the sandbox runs, as ASF does when a new acquisition is processed: a
        new pair over the same frame as ``like``, revised now, its bytes online in S3, found by CMR at once.

        :param like: the GranuleUR of a granule whose frame the new one covers.
        :param start: its reference acquisition (UTC); now by default.
        :param product_bytes: its product's size; the configured size by default.
        """
        if self.config.metadata_only:
            raise ValueError("a sandbox serving metadata only has no product bytes to publish")
        model = next((g for g in self.catalogue if g.granule_ur == like), None)
        if model is None:
            raise ValueError(f"like {like!r} is not a GranuleUR in the catalogue (GET /__sandbox__/catalogue)")
        size = self._product_size(product_bytes)
        reference = start or datetime.now(UTC)
        sequence = max(g.sequence for g in self.catalogue) + 1
        granule = new_granule(model, reference, sequence, self.config.seed + sequence)
        if any(g.granule_ur == granule.granule_ur for g in self.catalogue):
            raise ValueError(f"{granule.granule_ur} is published already; give another start")
        for catalogue_file in granule.files:
            self._store(granule, catalogue_file, size, archived=False)
        self.catalogue.append(granule)
        self._published.append(granule)
        return granule

    def _product_size(self, product_bytes: Any) -> int:
        size = self.config.product_bytes if product_bytes is None else product_bytes
        if not isinstance(size, int) or isinstance(size, bool) or size < 1024:
            raise ValueError(f"product_bytes {product_bytes!r} must be a whole number of at least 1024")
        return size

    def revise(self, granule_ur: str, product_bytes: int | None = None, new_bytes: bool = True) -> Granule:
        """Publish a new revision of a granule, as a reprocessing does: new product bytes (``product_bytes``
        long, else the configured size) online in S3, and in CMR a new revision id and a revision date of now.

        :param granule_ur: the granule's GranuleUR.
        :param product_bytes: the new product's size; at least 1024.
        :param new_bytes: False for a revision of the record alone (same bytes, same MD5), as when CMR
            metadata is corrected.
        """
        if self.config.metadata_only:
            raise ValueError("a sandbox serving metadata only has no product bytes to revise")
        granule = next((g for g in self.catalogue if g.granule_ur == granule_ur), None)
        if granule is None:
            raise ValueError(
                f"granule_ur {granule_ur!r} is not in the catalogue; GET /__sandbox__/catalogue lists them"
            )
        size = self._product_size(product_bytes)
        product = granule.data_file
        self._originals.setdefault(granule_ur, (product, granule.revision_date, granule.revision_id))
        granule.revision_id += 1
        granule.revision_date = datetime.now(UTC).replace(microsecond=0)
        if new_bytes:
            revised = dataclasses.replace(product, seed=product.seed + 7919 * granule.revision_id)
            granule.files[0] = revised
            self._store(granule, revised, size, archived=False)  # a new revision is online, never in Glacier
        return granule

    @staticmethod
    def _storage_class(key: str) -> str:
        stored = moto_backend().get_object(PRODUCT_BUCKET, key)
        if stored is None:
            raise LookupError(f"no object {key!r} in {PRODUCT_BUCKET}")
        return stored.storage_class or "STANDARD"

    def _start_http(self) -> None:
        import boto3
        from botocore.config import Config

        presigner = boto3.client(
            "s3",
            endpoint_url=self._urls().s3,
            region_name=REGION,
            aws_access_key_id=ADMIN_ACCESS_KEY,
            aws_secret_access_key=ADMIN_SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

        def presign(key: str, seconds: int) -> str:
            return presigner.generate_presigned_url(
                "get_object", Params={"Bucket": PRODUCT_BUCKET, "Key": key}, ExpiresIn=seconds
            )

        signing_key = secrets.token_bytes(32)
        directory = self._edl = edl.Directory(signing_key)
        # ASF's application: today's auth.asf.alaska.edu/login (and TEA's /login), 2018's mod_auth_urs /door/oauth.
        directory.redirect_uris[edl.ASF_CLIENT_ID] = {f"{self._urls().asf}/login", f"{self._urls().asf}/door/oauth"}
        self._door = asf.AsfDoor(
            lambda: self.config,
            self._urls(),
            directory,
            self.credentials,
            self.archive,
            self._storage_class,
            presign,
            self.stats,
            secrets.token_bytes(32),
        )
        search = cmr.GranuleSearch(self.catalogue, self._urls(), lambda: self.config)

        cmr_app = self._app(cmr.throttled)
        cmr_app.add_routes(cmr.routes(search, self._urls(), self.stats))
        cmr_app.add_routes(self._control_routes())
        edl_app = self._app(edl.throttled)
        edl_app.add_routes(edl.routes(directory, self._urls().edl))
        asf_app = self._app(asf.throttled)
        asf_app.add_routes(asf.routes(self._door))

        ready = threading.Event()
        failure: list[BaseException] = []
        loop = self._loop = asyncio.new_event_loop()
        door = self._door

        async def setup() -> None:
            door.http = aiohttp.ClientSession()
            for name, app in (("cmr", cmr_app), ("edl", edl_app), ("asf", asf_app)):
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                await web.SockSite(runner, self._sockets[name]).start()
                self._runners.append(runner)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as error:
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="sandbox-http", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def _app(self, throttled: Any) -> web.Application:
        return web.Application(
            middlewares=[service_middleware(self.stats, self.faults, throttled)], client_max_size=16 * 1024 * 1024
        )

    async def _cleanup(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._door is not None and self._door.http is not None:
            await self._door.http.close()

    def _control_routes(self) -> web.RouteTableDef:
        table = web.RouteTableDef()

        @table.get("/__sandbox__/stats", name="control_stats")
        async def stats(request: web.Request) -> web.Response:
            return web.json_response(self.stats.snapshot())

        @table.post("/__sandbox__/stats/reset", name="control_stats_reset")
        async def reset_stats(request: web.Request) -> web.Response:
            self.stats.reset()
            return web.json_response(self.stats.snapshot())

        @table.post("/__sandbox__/reset", name="control_reset")
        async def reset(request: web.Request) -> web.Response:
            self.reset()
            return web.json_response(self.stats.snapshot())

        @table.get("/__sandbox__/config", name="control_config")
        async def get_config(request: web.Request) -> web.Response:
            return web.json_response(self.config.__dict__)

        @table.post("/__sandbox__/config", name="control_config_update")
        async def set_config(request: web.Request) -> web.Response:
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError(f"expected a JSON object of settings, got {type(changes).__name__}")
                return web.json_response(self.update_config(changes).__dict__)
            except (ValueError, TypeError) as error:
                return web.json_response({"errors": [str(error)]}, status=400)

        @table.post("/__sandbox__/publish", name="control_publish")
        async def publish(request: web.Request) -> web.Response:
            try:
                asked = await request.json()
                if not isinstance(asked, dict) or not isinstance(asked.get("like"), str):
                    raise ValueError(
                        'expected {"like": "<GranuleUR>", "start": ISO 8601, "product_bytes": N} '
                        "(start and product_bytes optional)"
                    )
                start = asked.get("start")
                when = datetime.fromisoformat(start) if isinstance(start, str) else None
                if when is not None and when.tzinfo is None:
                    raise ValueError(f"start {start!r} needs a time zone (e.g. +00:00)")
                granule = await asyncio.to_thread(self.publish, asked["like"], when, asked.get("product_bytes"))
            except (ValueError, TypeError) as error:
                return web.json_response({"errors": [str(error)]}, status=400)
            document = next(g for g in self.catalogue_document() if g["granule_ur"] == granule.granule_ur)
            return web.json_response(document)

        @table.post("/__sandbox__/revise", name="control_revise")
        async def revise(request: web.Request) -> web.Response:
            try:
                asked = await request.json()
                if not isinstance(asked, dict) or not isinstance(asked.get("granule_ur"), str):
                    raise ValueError('expected {"granule_ur": "...", "product_bytes": N (optional)}')
                # Building a product takes a while: off the loop, so the services keep answering meanwhile.
                new_bytes = asked.get("new_bytes", True)
                if not isinstance(new_bytes, bool):
                    raise ValueError(f"new_bytes {new_bytes!r} must be true or false")
                granule = await asyncio.to_thread(
                    self.revise, asked["granule_ur"], asked.get("product_bytes"), new_bytes
                )
            except (ValueError, TypeError) as error:
                return web.json_response({"errors": [str(error)]}, status=400)
            return web.json_response(
                next(g for g in self.catalogue_document() if g["granule_ur"] == granule.granule_ur)
            )

        @table.get("/__sandbox__/catalogue", name="control_catalogue")
        async def catalogue(request: web.Request) -> web.Response:
            return web.json_response(self.catalogue_document())

        @table.get("/__sandbox__/health", name="control_health")
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        return table


def _write_metadata(out: Any, granule: Granule) -> None:
    out.write(
        products.json_bytes(
            {
                "granule_ur": granule.granule_ur,
                "collection": granule.collection.short_name,
                "reference_date": granule.start.isoformat(),
                "secondary_date": granule.secondary_date.isoformat(),
                "path": granule.path,
                "frame": granule.frame,
                "flight_direction": granule.direction,
                "footprint": granule.footprint,
            }
        )
    )
