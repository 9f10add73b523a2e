"""The sandbox's ASF door (today's and 2018's GRFN endpoints) and TEA ``/s3credentials``.

Follows ``asfadmin/grfn-distribution`` (``door/door.py`` and ``conf/apache2.conf`` of 2018, ``routes.py`` of
today) and TEA's ``s3credentials()`` as summarised in ``asf_cmr_edl.md`` sections 1 and 2. Today every path
of the door needs the ``asf-urs`` cookie, obtained by a redirect through EDL to ``/login`` (standing in for
auth.asf.alaska.edu/login); in 2018 Apache's mod_auth_urs guarded ``/door`` with its ``GRFNDoor`` session
cookie and took EDL's redirect at ``/door/oauth``. TEA, when on, takes its cookie or an EDL bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from airflow_asf_ifg.sandbox import tokens
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from airflow_asf_ifg.sandbox.edl import ASF_CLIENT_ID
from airflow_asf_ifg.sandbox.web import pretty_json, send

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_asf_ifg.sandbox.config import SandboxConfig
    from airflow_asf_ifg.sandbox.edl import Directory
    from airflow_asf_ifg.sandbox.records import Urls
    from airflow_asf_ifg.sandbox.state import ArchiveClock, ArchiveStatus, CredentialIssuer, Stats

COOKIE = "asf-urs"  # today's door and TEA (routes.py JWT_COOKIE_NAME, rain-api-core)
#: mod_auth_urs names its session cookie after the location's ``UrsAuthGroup`` (2018 ``apache2.conf``).
SESSION_COOKIE_2018 = "GRFNDoor"
SESSION_DAYS = 7
RESTORE_DAYS = 7  # the 2018 door restored for RetentionDays (default 7)
#: TEA keys work in-region only (TEA DownloadRoleInRegion); NASA's Earthdata Cloud region.
TEA_REGION = "us-west-2"
_FETCHING = "Your requested data are being fetched from long-term storage.  Please try again later.\n"
_GONE = (
    "<!doctype html><title>410 Gone</title><h1>Gone</h1><p>The requested URL is no longer available on this "
    "server and there is no forwarding address.</p>\n"
)


class AsfDoor:
    """State and collaborators of the door and TEA.

    :param config: returns the current sandbox settings.
    :param urls: the services' base URLs.
    :param directory: EDL accounts (TEA's bearer path asks EDL over HTTP; this is only for the app secret).
    :param credentials: the temporary key issuer shared with S3.
    :param archive: the retrieval clock shared with S3.
    :param storage_class: returns the storage class of a product key; raises LookupError when there is none.
    :param presign: returns a presigned S3 GET URL for a product key valid for N seconds.
    :param stats: request statistics.
    :param cookie_key: HMAC key of the ``asf-urs`` cookie.
    """

    def __init__(
        self,
        config: Callable[[], SandboxConfig],
        urls: Urls,
        directory: Directory,
        credentials: CredentialIssuer,
        archive: ArchiveClock,
        storage_class: Callable[[str], str],
        presign: Callable[[str, int], str],
        stats: Stats,
        cookie_key: bytes,
    ) -> None:
        self.config = config
        self.urls = urls
        self.directory = directory
        self.credentials = credentials
        self.archive = archive
        self.storage_class = storage_class
        self.presign = presign
        self.stats = stats
        self.cookie_key = cookie_key
        self.http: aiohttp.ClientSession | None = None

    def cookie_for(self, uid: str) -> str:
        """A signed ``asf-urs`` JWT for a user (claims as rain-api-core's ``to_jwt_payload``).

        :param uid: the EDL user id.
        """
        now = int(time.time())
        return tokens.encode(
            {
                "urs-user-id": uid,
                "first_name": "Sandbox",
                "last_name": "User",
                "urs-groups": [],
                "iat": now,
                "exp": now + SESSION_DAYS * 86400,
            },
            self.cookie_key,
        )

    def session_2018_for(self, uid: str) -> str:
        """A signed ``GRFNDoor`` session cookie for a user (mod_auth_urs keeps its sessions server-side; the
        value is opaque to clients either way).

        :param uid: the EDL user id.
        """
        now = int(time.time())
        return tokens.encode({"uid": uid, "iat": now, "exp": now + SESSION_DAYS * 86400}, self.cookie_key)

    @property
    def era(self) -> str:
        """The era the door answers as (``today`` or ``2018``)."""
        return self.config().era

    def cookie_user(self, request: web.Request) -> str | None:
        """The user of a valid ``asf-urs`` cookie.

        :param request: the request.
        """
        claims = tokens.decode(request.cookies.get(COOKIE, ""), self.cookie_key)
        return str(claims["urs-user-id"]) if claims and "urs-user-id" in claims else None

    def door_user(self, request: web.Request) -> str | None:
        """The user of the door's session cookie in the current era (``asf-urs`` today, ``GRFNDoor`` in 2018).

        :param request: the request.
        """
        if self.era == "today":
            return self.cookie_user(request)
        claims = tokens.decode(request.cookies.get(SESSION_COOKIE_2018, ""), self.cookie_key)
        return str(claims["uid"]) if claims and "uid" in claims else None

    def login_redirect(self, request: web.Request) -> web.HTTPFound:
        """The redirect to EDL that every unauthenticated call to today's door or TEA gets (routes.py
        ``authenticate_user``: ``state`` is the URL without its query, ``app_type=401`` unless the User-Agent
        starts with ``Mozilla``).

        :param request: the request.
        """
        params = {
            "response_type": "code",
            "client_id": ASF_CLIENT_ID,
            "redirect_uri": f"{self.urls.asf}/login",
            "state": str(request.url.with_query(None)),
        }
        if not request.headers.get("User-Agent", "").startswith("Mozilla"):
            params["app_type"] = "401"
        return web.HTTPFound(f"{self.urls.edl}/oauth/authorize?{urlencode(params, quote_via=quote)}")

    def login_redirect_2018(self, request: web.Request) -> web.HTTPFound:
        """mod_auth_urs' redirect to EDL (2018): ``app_type=401`` first unless the User-Agent contains
        "mozilla" (``BrowserMatchNoCase``), ``redirect_uri`` ``/door/oauth``, ``state`` the base64 of the URL.

        :param request: the request.
        """
        params = {
            "client_id": ASF_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": f"{self.urls.asf}/door/oauth",
            "state": base64.b64encode(str(request.url).encode()).decode(),
        }
        if "mozilla" not in request.headers.get("User-Agent", "").lower():
            params = {"app_type": "401", **params}
        return web.HTTPFound(f"{self.urls.edl}/oauth/authorize?{urlencode(params, quote_via=quote)}")

    def require_door_user(self, request: web.Request) -> str:
        """The door's user, or raise the era's answer to a request without a valid session: a redirect to EDL,
        or in 2018 a 401 for HEAD (mod_auth_urs cannot redirect a HEAD request).

        :param request: the request.
        """
        uid = self.door_user(request)
        if uid is not None:
            return uid
        if self.era == "today":
            raise self.login_redirect(request)
        if request.method == "HEAD":
            raise web.HTTPUnauthorized()
        raise self.login_redirect_2018(request)

    async def archive_status(self, key: str) -> ArchiveStatus | None:
        """Where a product stands in long-term storage, or None when the bucket has no such key.

        :param key: the object key (the product's file name).
        """
        try:
            storage_class = await asyncio.to_thread(self.storage_class, key)
        except LookupError:
            return None
        return self.archive.status(PRODUCT_BUCKET, key, storage_class)

    async def redeem(self, code: str, redirect_uri: str) -> tuple[int, dict[str, Any] | None]:
        """Exchange an authorization code at EDL's ``/oauth/token`` as ASF's application; (status, document).

        :param code: the code EDL sent back.
        :param redirect_uri: the redirect URI the code was issued for.
        """
        secret = self.directory.apps[ASF_CLIENT_ID]
        status, document, _ = await self.edl(
            "POST",
            "/oauth/token",
            headers={"Authorization": _basic(ASF_CLIENT_ID, secret)},
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        )
        return status, document

    async def edl(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any] | None, bytes]:
        """Call EDL over HTTP, as the real services do.

        :param method: HTTP method.
        :param path: path on the EDL host.
        :param kwargs: passed to aiohttp.
        """
        assert self.http is not None
        async with self.http.request(method, f"{self.urls.edl}{path}", **kwargs) as response:
            body = await response.read()
            try:
                document = await response.json(content_type=None)
            except ValueError:
                document = None
            return response.status, document, body


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def _not_found() -> web.Response:
    return web.Response(status=404, text="Not Found\n")


def routes(door: AsfDoor) -> web.RouteTableDef:
    """The door's and TEA's routes; each answers as the current era's service does.

    :param door: shared state.
    """
    table = web.RouteTableDef()

    @table.get("/login", name="asf_login")
    async def login(request: web.Request) -> web.StreamResponse:
        # auth.asf.alaska.edu/login for today's door and TEA's own /login; the 2018 door had neither.
        if door.era == "2018" and not door.config().tea:
            return _not_found()
        if "error" in request.query:
            message = request.query.get("error_msg") or request.query["error"]
            return web.Response(status=401, text=f"Earthdata Login refused the login: {message}\n")
        code, state = request.query.get("code"), request.query.get("state")
        if not code or not state:
            return web.Response(status=400, text="code and state are required\n")
        status, document = await door.redeem(code, f"{door.urls.asf}/login")
        if status == 429 or status >= 500:
            return web.Response(
                status=503, text=f"Earthdata Login answered {status}; try again\n", headers={"Retry-After": "1"}
            )
        if status != 200 or not document:
            return web.Response(status=401, text="Earthdata Login did not accept the authorization code\n")
        uid = str(document["endpoint"]).rsplit("/", 1)[-1]
        response = web.HTTPTemporaryRedirect(state)
        response.set_cookie(COOKIE, door.cookie_for(uid), path="/", max_age=SESSION_DAYS * 86400, httponly=True)
        raise response

    @table.get("/door/oauth", name="door_oauth")
    async def door_oauth(request: web.Request) -> web.StreamResponse:
        # mod_auth_urs' redirection point (UrsRedirectUrl, 2018): 403 without state or code, EDL's status when
        # the code exchange or profile lookup fails, else the session cookie and a 302 back to the original URL.
        if door.era != "2018":
            door.require_door_user(request)
            return _not_found()
        state, code = request.query.get("state"), request.query.get("code")
        if not state:
            return web.Response(status=403, text="Forbidden\n")
        try:
            original = base64.b64decode(state, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return web.Response(status=400, text="Bad Request\n")
        if not code:
            message = request.query.get("error_msg") or request.query.get("error") or "no authorization code"
            return web.Response(status=403, text=f"Forbidden: {message}\n")
        status, document = await door.redeem(code, f"{door.urls.asf}/door/oauth")
        if status == 429 or status >= 500:
            return web.Response(
                status=503, text=f"Earthdata Login answered {status}; try again\n", headers={"Retry-After": "1"}
            )
        if status != 200 or not document:
            return web.Response(
                status=status if status >= 400 else 500, text="Earthdata Login did not accept the authorization code\n"
            )
        profile_status, profile, _ = await door.edl(
            "GET", str(document["endpoint"]), headers={"Authorization": f"Bearer {document['access_token']}"}
        )
        if profile_status != 200 or not profile:
            return web.Response(
                status=profile_status if profile_status >= 400 else 500,
                text="Earthdata Login did not return the user profile\n",
            )
        response = web.HTTPFound(original)
        response.set_cookie(SESSION_COOKIE_2018, door.session_2018_for(str(profile["uid"])), path="/", httponly=True)
        raise response

    @table.get("/door/credentials", name="credentials")
    async def credentials(request: web.Request) -> web.StreamResponse:
        uid = door.require_door_user(request)
        config = door.config()
        if config.era == "today" or config.credentials_gone:
            # abort(410) since 2020 (grfn-distribution eaba453), after the login check as in routes.py
            return web.Response(status=410, content_type="text/html", text=_GONE)
        issued = door.credentials.issue(uid, config.credential_ttl, (PRODUCT_BUCKET,), None)
        door.stats.event("credentials_issued")
        document = {
            "Credentials": {
                "AccessKeyId": issued.access_key_id,
                "SecretAccessKey": issued.secret_access_key,
                "SessionToken": issued.session_token,
                "Expiration": str(issued.expiration.astimezone(UTC).replace(microsecond=0)),
            },
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{PRODUCT_BUCKET}"},
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{PRODUCT_BUCKET}/*"},
                ],
            },
        }
        return await send(request, pretty_json(document))

    @table.get("/door/status/{key:.+}", name="status")
    async def status(request: web.Request) -> web.StreamResponse:
        door.require_door_user(request)
        if door.era == "today":
            return _not_found()  # removed with Glacier serving in 2019 (grfn-distribution ff0955b)
        state = await door.archive_status(request.match_info["key"])
        if state is None:
            return _not_found()
        if state.state in ("available", "archived", "retrieving"):
            return await send(request, pretty_json({"status": state.state}))
        assert state.restore_expiry is not None, "a restored copy always has an expiry"
        expiry = state.restore_expiry.astimezone(UTC).replace(tzinfo=None)
        return await send(request, pretty_json({"status": "available", "expiration_date": str(expiry)}))

    @table.route("*", "/door/download/{key:.+}", name="download")
    async def download(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        door.require_door_user(request)
        key = request.match_info["key"]
        state = await door.archive_status(key)
        if state is None:
            return _not_found()
        # Today the door checks the object exists and redirects (routes.py); nothing is in Glacier any more.
        if door.era == "today" or state.state in ("available", "restored"):
            raise web.HTTPFound(door.presign(key, door.config().download_url_seconds))
        if (
            state.state == "archived"
            and request.method == "GET"
            and door.archive.request(PRODUCT_BUCKET, key, RESTORE_DAYS)
        ):
            door.stats.event("retrieval_started")
        return web.Response(status=202, text=_FETCHING, content_type="text/html")

    @table.get("/s3credentials", name="s3credentials")
    async def s3credentials(request: web.Request) -> web.StreamResponse:
        if not door.config().tea:
            # GRFN has no TEA: today the door's login check runs first (Flask before_request), then 404; in
            # 2018 the path lay outside mod_auth_urs' /door location.
            if door.era == "today":
                door.require_door_user(request)
            return _not_found()
        header = request.headers.get("Authorization")
        uid = door.cookie_user(request)
        set_cookie = False
        if uid is None and header:
            scheme, _, token = header.partition(" ")
            if scheme != "Bearer" or not token:
                return web.json_response(
                    {"status_code": 400, "error_description": "Malformed Authorization header"}, status=400
                )
            # TEA reads the uid from the bearer JWT without verifying it, then asks EDL with that bearer.
            claims = tokens.claims_unverified(token) or {}
            status_code, _, body = await door.edl(
                "GET",
                f"/api/users/{claims.get('uid', '-')}",
                params={"client_id": ASF_CLIENT_ID},
                headers={"Authorization": f"Bearer {token}"},
            )
            if status_code != 200:
                return web.Response(status=status_code, body=body, content_type="application/json")
            uid, set_cookie = str(claims["uid"]), True
        if uid is None:
            raise door.login_redirect(request)
        issued = door.credentials.issue(uid, door.config().credential_ttl, (PRODUCT_BUCKET,), TEA_REGION)
        door.stats.event("credentials_issued")
        expiration = str(issued.expiration.astimezone(UTC).replace(microsecond=0))
        document = {
            "accessKeyId": issued.access_key_id,
            "secretAccessKey": issued.secret_access_key,
            "sessionToken": issued.session_token,
            "expiration": expiration,
        }
        response = web.json_response(document)
        if set_cookie:
            response.set_cookie(COOKIE, door.cookie_for(uid), path="/", httponly=True)
        return response

    @table.route("*", "/{tail:.*}", name="door_other")
    async def other(request: web.Request) -> web.StreamResponse:
        # Any other path: today's door checks the cookie first (Flask before_request), then 404; in 2018
        # mod_auth_urs guarded the /door location only (apache2.conf <Location "/door">).
        if door.era == "today" or request.path == "/door" or request.path.startswith("/door/"):
            door.require_door_user(request)
        return _not_found()

    return table


def throttled() -> web.Response:
    """The door's rate-limit answer (API Gateway's 429)."""
    return web.json_response({"message": "Too Many Requests"}, status=429, headers={"Retry-After": "1"})
