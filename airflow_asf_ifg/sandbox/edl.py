"""The sandbox's Earthdata Login: the OAuth2 authorize/token dance, user tokens and profile lookups.

Follows EDL's documented behaviour (``asf_cmr_edl.md`` section 3): ``app_type=401`` answers scripts with
401 + ``WWW-Authenticate: Basic``; a Basic login redirects to the application's redirect URI with a
``code``; user tokens are JWTs valid 60 days, at most 2 per user; an application whose EULA the user
has not accepted gets EDL's 403 JSON with a ``resolution_url``.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from airflow_asf_ifg.sandbox import tokens
from airflow_asf_ifg.sandbox.config import NO_EULA_PASSWORD, NO_EULA_USER, SANDBOX_PASSWORD, SANDBOX_USER

#: ASF's EDL application (the door and TEA redirect here), with the real client id of ASF's app.
ASF_CLIENT_ID = "BO_n7nTIlMljdvU6kRRB3g"
MAX_TOKENS = 2
TOKEN_DAYS = 60
_REALM = (
    'Basic realm="Please enter your Earthdata Login credentials. If you do not have a Earthdata Login, '
    'create one at https://urs.earthdata.nasa.gov//users/new"'
)
#: A user whose profile EDL wants updated: its login ends with ``error_msg`` on the redirect.
PROFILE_USER = "profile_user"
PROFILE_PASSWORD = "profile-password"


@dataclass
class User:
    """An EDL account.

    :param uid: user id (the login).
    :param password: the password.
    :param approved_apps: client ids whose EULA the user has accepted.
    :param profile_complete: False makes logins end with EDL's "update your profile" error.
    :param tokens: the user's active tokens.
    """

    uid: str
    password: str
    approved_apps: set[str]
    profile_complete: bool = True
    tokens: list[dict[str, str]] = field(default_factory=list)


class Directory:
    """EDL's accounts, sessions and issued codes and tokens.

    :param signing_key: HMAC key of the user tokens.
    """

    def __init__(self, signing_key: bytes) -> None:
        self.signing_key = signing_key
        self._lock = threading.Lock()
        self.users = {
            SANDBOX_USER: User(SANDBOX_USER, SANDBOX_PASSWORD, {ASF_CLIENT_ID}),
            NO_EULA_USER: User(NO_EULA_USER, NO_EULA_PASSWORD, set()),
            PROFILE_USER: User(PROFILE_USER, PROFILE_PASSWORD, {ASF_CLIENT_ID}, profile_complete=False),
        }
        self.apps = {ASF_CLIENT_ID: "sandbox-asf-app-secret"}
        #: Redirect URIs registered per application; an application not listed here accepts any.
        self.redirect_uris: dict[str, set[str]] = {}
        self._codes: dict[str, tuple[str, str, float]] = {}
        self._sessions: dict[str, str] = {}
        self._access_tokens: dict[str, str] = {}

    def check_basic(self, header: str | None) -> tuple[str | None, bool]:
        """(user id, credentials given) for an ``Authorization: Basic`` header.

        :param header: the Authorization header value.
        """
        if not header or not header.startswith("Basic "):
            return None, False
        try:
            login, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, True
        user = self.users.get(login)
        return (login if user and secrets.compare_digest(user.password, password) else None), True

    def new_session(self, uid: str) -> str:
        """Start an EDL browser session; return its cookie value.

        :param uid: the user.
        """
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = uid
        return session

    def session_user(self, session: str | None) -> str | None:
        """The user of an EDL session cookie.

        :param session: the cookie value.
        """
        with self._lock:
            return self._sessions.get(session or "")

    def new_code(self, uid: str, client_id: str, redirect_uri: str) -> str:
        """Issue a one-time authorization code.

        :param uid: the user.
        :param client_id: the application.
        :param redirect_uri: where it may be redeemed from.
        """
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (uid, f"{client_id} {redirect_uri}", time.time() + 60)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str) -> str | None:
        """Exchange a code for an access token; codes work once.

        :param code: the code.
        :param client_id: the application.
        :param redirect_uri: the redirect URI the code was issued for.
        """
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry[1] != f"{client_id} {redirect_uri}" or entry[2] < time.time():
            return None
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = entry[0]
        return access_token

    def user_token(self, uid: str) -> dict[str, str]:
        """Create a 60-day user token.

        :param uid: the user.
        """
        expires = datetime.now(UTC) + timedelta(days=TOKEN_DAYS)
        claims = {
            "type": "User",
            "uid": uid,
            "exp": int(expires.timestamp()),
            "iat": int(time.time()),
            "iss": "Earthdata Login",
            "jti": secrets.token_hex(8),
        }
        token = {
            "access_token": tokens.encode(claims, self.signing_key),
            "token_type": "Bearer",
            "expiration_date": expires.strftime("%m/%d/%Y"),
        }
        with self._lock:
            self.users[uid].tokens.append(token)
        return token

    def issued_secrets(self) -> list[str]:
        """Every password, application secret, session, code and token EDL knows, for tests that look for leaks."""
        with self._lock:
            return [
                *(user.password for user in self.users.values()),
                *self.apps.values(),
                *self._sessions,
                *self._codes,
                *self._access_tokens,
                *(token["access_token"] for user in self.users.values() for token in user.tokens),
            ]

    def bearer_user(self, token: str) -> str | None:
        """The user of a bearer token: an active user token or an OAuth access token.

        :param token: the token.
        """
        with self._lock:
            if token in self._access_tokens:
                return self._access_tokens[token]
        claims = tokens.decode(token, self.signing_key)
        if not claims:
            return None
        uid = str(claims.get("uid"))
        user = self.users.get(uid)
        if user is None or all(t["access_token"] != token for t in user.tokens):
            return None  # revoked
        return uid

    def revoke(self, uid: str, token: str) -> None:
        """Revoke one of a user's tokens.

        :param uid: the user.
        :param token: the token.
        """
        with self._lock:
            user = self.users[uid]
            user.tokens = [t for t in user.tokens if t["access_token"] != token]


def eula_error(edl_url: str, client_id: str) -> web.Response:
    """EDL's answer when the user has not accepted an application's EULA.

    :param edl_url: EDL's base URL.
    :param client_id: the application.
    """
    return web.json_response(
        {
            "status_code": 403,
            "error_description": "EULA Acceptance Failure",
            "resolution_url": f"{edl_url}/approve_app?client_id={client_id}",
        },
        status=403,
    )


def _unauthorized(message: str = "Invalid user credentials") -> web.Response:
    return web.json_response(
        {"error": "invalid_credentials", "error_description": message}, status=401, headers={"WWW-Authenticate": _REALM}
    )


def routes(directory: Directory, edl_url: str) -> web.RouteTableDef:
    """EDL's routes.

    :param directory: accounts and tokens.
    :param edl_url: EDL's own base URL.
    """
    table = web.RouteTableDef()

    @table.get("/oauth/authorize", name="edl_authorize")
    async def authorize(request: web.Request) -> web.StreamResponse:
        client_id = request.query.get("client_id", "")
        redirect_uri = request.query.get("redirect_uri", "")
        if client_id not in directory.apps or request.query.get("response_type") != "code" or not redirect_uri:
            return web.json_response(
                {
                    "error": "invalid_request",
                    "error_description": "client_id, redirect_uri and response_type=code are required",
                },
                status=400,
            )
        registered = directory.redirect_uris.get(client_id)
        if registered is not None and redirect_uri not in registered:
            # EDL sends codes only to an application's registered redirect URIs (OAuth 2.0, RFC 6749 3.1.2).
            return web.json_response(
                {
                    "error": "invalid_request",
                    "error_description": f"redirect_uri {redirect_uri!r} is not registered for "
                    f"{client_id}; registered: {sorted(registered)}",
                },
                status=400,
            )
        uid, gave_credentials = directory.check_basic(request.headers.get("Authorization"))
        if gave_credentials and uid is None:
            return _unauthorized()
        uid = uid or directory.session_user(request.cookies.get("_urs-gui_session"))
        if uid is None:
            if request.query.get("app_type") == "401":
                return _unauthorized("Please enter your Earthdata Login credentials")
            return web.Response(
                text="<html><body><h1>Earthdata Login</h1><form method='post' action='/login'>"
                "<input name='username'/><input name='password' type='password'/>"
                "</form></body></html>",
                content_type="text/html",
            )
        user = directory.users[uid]
        state = request.query.get("state")
        if client_id not in user.approved_apps:
            return eula_error(edl_url, client_id)
        if not user.profile_complete:
            params = {
                "error": "access_denied",
                "error_msg": "Please update your profile",
                "resolution_url": f"{edl_url}/profile",
            }
        else:
            params = {"code": directory.new_code(uid, client_id, redirect_uri)}
        if state is not None:
            params["state"] = state
        response = web.HTTPFound(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}")
        response.set_cookie("_urs-gui_session", directory.new_session(uid), httponly=True, path="/")
        response.set_cookie("urs_user_already_logged", "yes", path="/")
        raise response

    @table.post("/oauth/token", name="edl_oauth_token")
    async def token(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        try:
            client_id, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        if directory.apps.get(client_id) != secret or not secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        if form.get("grant_type") != "authorization_code":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access = directory.redeem_code(str(form.get("code", "")), client_id, str(form.get("redirect_uri", "")))
        if access is None:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid code"}, status=400)
        uid = directory.bearer_user(access)
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": secrets.token_urlsafe(16),
                "endpoint": f"/api/users/{uid}",
            }
        )

    def basic_user(request: web.Request) -> str | None:
        return directory.check_basic(request.headers.get("Authorization"))[0]

    @table.post("/api/users/token", name="edl_token")
    async def create_token(request: web.Request) -> web.Response:
        uid = basic_user(request)
        if uid is None:
            return _unauthorized()
        if len(directory.users[uid].tokens) >= MAX_TOKENS:
            return web.json_response(
                {"error": "max_token_limit", "error_description": f"Max limit ({MAX_TOKENS}) of active tokens reached"},
                status=403,
            )
        return web.json_response(directory.user_token(uid))

    @table.get("/api/users/tokens", name="edl_tokens")
    async def list_tokens(request: web.Request) -> web.Response:
        uid = basic_user(request)
        if uid is None:
            return _unauthorized()
        return web.json_response(directory.users[uid].tokens)

    @table.post("/api/users/find_or_create_token", name="edl_find_or_create_token")
    async def find_or_create(request: web.Request) -> web.Response:
        uid = basic_user(request)
        if uid is None:
            return _unauthorized()
        existing = directory.users[uid].tokens
        return web.json_response(existing[0] if existing else directory.user_token(uid))

    @table.post("/api/users/revoke_token", name="edl_revoke_token")
    async def revoke(request: web.Request) -> web.Response:
        uid = basic_user(request)
        if uid is None:
            return _unauthorized()
        directory.revoke(uid, request.query.get("token", ""))
        return web.Response(status=200)

    @table.get("/api/users/{uid}", name="edl_profile")
    async def profile(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        uid = directory.bearer_user(header[7:]) if header.startswith("Bearer ") else None
        if uid is None or uid != request.match_info["uid"]:
            return web.json_response(
                {"error": "invalid_token", "error_description": "The token is invalid"}, status=401
            )
        client_id = request.query.get("client_id")
        if client_id and client_id not in directory.users[uid].approved_apps:
            return eula_error(edl_url, client_id)
        return web.json_response(
            {
                "uid": uid,
                "first_name": "Sandbox",
                "last_name": "User",
                "email_address": f"{uid}@sandbox.invalid",
                "country": "United States",
                "user_groups": [],
                "user_authorized_apps": len(directory.users[uid].approved_apps),
            }
        )

    return table


def throttled() -> web.Response:
    """EDL's rate-limit answer."""
    return web.json_response({"error": "too_many_requests"}, status=429, headers={"Retry-After": "1"})
