"""Earthdata Login sessions: who the user is, where credentials may be sent, and EDL's errors.

Rules (``asf_cmr_edl.md`` section 3): the ASF door and TEA redirect to EDL's ``/oauth/authorize``
with ``app_type=401``; Basic credentials answer EDL's challenge and must reach the EDL host only; a
user token (``Authorization: Bearer``) is accepted by EDL, CMR and TEA but not by the 2018 door; the
``asf-urs`` cookie set on the way back carries the session, so one cookie jar spans the whole chain.
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import requests
import requests.adapters
import urllib3.exceptions
from urllib3.util.retry import Retry

from airflow_asf_ifg import __version__
from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.exceptions import EarthdataLoginError, EulaNotAcceptedError, HostNotFoundError

__all__ = [
    "CONNECTION_FORMS",
    "EARTHDATA_CONN_TYPE",
    "USER_AGENT",
    "AsyncEarthdataSession",
    "AuthPolicy",
    "EarthdataIdentity",
    "EarthdataSession",
    "FetchedResponse",
    "HopRetry",
    "check_login",
    "hop_retries",
    "host_not_found",
    "netrc_login",
    "origin",
    "policy_for",
    "resolve_identity",
    "token_user",
]

USER_AGENT = f"airflow-asf-ifg/{__version__}"
#: The 2018 door authenticates with its cookie only (door routes.py); a bearer token is never sent there.
_NO_BEARER_PATHS = ("/door/",)
_REDIRECTS = (301, 302, 303, 307, 308)
#: The Airflow connection type, and the two forms its text is accepted in (for errors).
EARTHDATA_CONN_TYPE = "earthdata"
CONNECTION_FORMS = (
    'Airflow\'s JSON form {"conn_type": "earthdata", "login": ..., "password": ..., '
    '"extra": {...}} or a URI earthdata://LOGIN:PASSWORD@/?edl_url=https%3A%2F%2Furs.earthdata.nasa.gov'
)


@dataclass(frozen=True)
class EarthdataIdentity:
    """An Earthdata Login identity: a user token, a login and password, or both.

    :param token: an EDL user token.
    :param login: the EDL username.
    :param password: the EDL password.
    :param source: where the identity came from, for messages (never the secret itself).
    """

    token: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = "none"

    def __repr__(self) -> str:
        return (
            f"EarthdataIdentity(login={self.login!r}, password={'***' if self.password else None}, "
            f"token={'***' if self.token else None}, source={self.source!r})"
        )

    @property
    def can_log_in(self) -> bool:
        """Whether EDL's Basic challenge can be answered (login and password are known)."""
        return bool(self.login and self.password)


def netrc_login(host: str, path: str | None = None) -> tuple[str, str, str] | None:
    """(login, password, file) for ``host`` in the .netrc file, or None when there is no entry.

    :param host: the EDL host name (``urs.earthdata.nasa.gov``).
    :param path: the file; default ``$NETRC`` or ``~/.netrc``.
    """
    location = Path(path or os.environ.get("NETRC") or Path.home() / ".netrc").expanduser()
    if not location.is_file():
        return None
    try:
        entry = netrc.netrc(str(location)).authenticators(host)
    except netrc.NetrcParseError as error:
        raise EarthdataLoginError(
            f"cannot read {location}: {error.msg} (line {error.lineno}); fix the file or "
            f"put the login in the earthdata connection"
        ) from None
    if not entry or not entry[0] or not entry[2]:
        return None
    return entry[0], entry[2], str(location)


def resolve_identity(
    *, token: str | None, login: str | None, password: str | None, edl_url: str, netrc_path: str | None = None
) -> EarthdataIdentity:
    """Collect the identity in order: the connection's token, its login/password, then .netrc for EDL.

    :param token: the connection's ``token`` extra.
    :param login: the connection's login.
    :param password: the connection's password.
    :param edl_url: the EDL URL (its host is looked up in .netrc).
    :param netrc_path: the .netrc file; default ``$NETRC`` or ``~/.netrc``.
    """
    token = token or None
    if login and not password:
        raise EarthdataLoginError(
            f"the earthdata connection has login {login!r} but no password; add the "
            f"password, or remove the login to use a token or ~/.netrc"
        )
    if login and password:
        return EarthdataIdentity(
            token=token,
            login=login,
            password=password,
            source="connection token and login" if token else "connection login",
        )
    host = urlsplit(edl_url).hostname or ""
    found = netrc_login(host, netrc_path)
    if found:
        return EarthdataIdentity(
            token=token,
            login=found[0],
            password=found[1],
            source=f"connection token and {found[2]}" if token else found[2],
        )
    return EarthdataIdentity(token=token, source="connection token" if token else "none")


def token_user(token: str) -> str:
    """The ``uid`` claim of an EDL user token (a JWT), read without verifying it, as TEA does.

    :param token: the token.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["uid"])
    except (IndexError, KeyError, ValueError):
        raise EarthdataLoginError(
            "the EDL token is not a user token (a JWT with a uid claim); create one at "
            "Earthdata Login under 'Generate Token'"
        ) from None


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in.

    :param url: the URL.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _resolver_busy(error: BaseException | None) -> bool:
    """Whether a lookup failed for now (EAI_AGAIN, "temporary failure in name resolution"): that one is retried."""
    return isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN


def _dns_failure(error: BaseException) -> tuple[str | None, str] | None:
    """(the host, if the error says, and the resolver's reason) when ``error`` is or wraps a failed DNS lookup."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NameResolutionError):
            reason = getattr(current, "_reason", None)
            if _resolver_busy(reason):
                return None
            return getattr(current, "_host", None), str(reason or current)
        if isinstance(current, aiohttp.ClientConnectorError) and isinstance(current.os_error, socket.gaierror):
            return None if _resolver_busy(current.os_error) else (current.host, str(current.os_error))
        if isinstance(current, socket.gaierror):
            return None if _resolver_busy(current) else (None, str(current))
        # requests wraps urllib3's MaxRetryError in args[0]; MaxRetryError keeps the cause in .reason.
        pending += [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *(a for a in current.args if isinstance(a, BaseException)),
        ]
    return None


def host_not_found(error: BaseException, url: str, settings: Iterable[str] = ()) -> HostNotFoundError | None:
    """The error to raise at once when ``error`` is a failed DNS lookup (retrying cannot fix a name), else None.

    :param error: a ``requests``, urllib3 or aiohttp connection error.
    :param url: the URL requested.
    :param settings: the settings whose URL has that host (``cmr_url``...), for the message.
    """
    failure = _dns_failure(error)
    if failure is None:
        return None
    parts = urlsplit(url)
    host = failure[0] or parts.hostname or url
    where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query: a signed URL's signature stays out of logs
    names = list(settings)
    check = (
        f"check {' and '.join(names)} in the earthdata connection for a typo"
        if names
        else "check where that URL came from (a redirect, or a URL in a CMR record)"
    )
    return HostNotFoundError(
        f"host {host!r} does not resolve ({failure[1]}), so {where} cannot be reached; {check}, "
        f"or this machine's DNS; not retried, as retrying cannot fix a host name",
        host,
    )


class AuthPolicy:
    """Decides, per URL, which ``Authorization`` header (if any) may be sent.

    Basic goes to the EDL origin only; Bearer to EDL and to the origins listed in ``bearer_urls``
    (CMR, TEA), never to a door path; nothing goes anywhere else (S3, CloudFront, signed URLs).

    :param identity: the user's identity.
    :param edl_url: EDL's URL.
    :param bearer_urls: URLs whose origins accept the user token.
    :param endpoints: setting name → URL of every configured endpoint, to name the setting in errors
        (default: ``edl_url`` only).
    """

    def __init__(
        self,
        identity: EarthdataIdentity,
        edl_url: str,
        bearer_urls: Iterable[str | None] = (),
        endpoints: dict[str, str | None] | None = None,
    ) -> None:
        self.identity = identity
        self.edl_url = edl_url
        self._edl_origin = origin(edl_url)
        self._bearer_origins = {origin(u) for u in bearer_urls if u} | {self._edl_origin}
        self.endpoints = {name: url for name, url in (endpoints or {"edl_url": edl_url}).items() if url}

    def settings_for_host(self, url: str) -> list[str]:
        """The names of the endpoint settings on the host of ``url`` (``["cmr_url"]``...).

        :param url: a URL.
        """
        host = (urlsplit(url).hostname or "").lower()
        return [name for name, value in self.endpoints.items() if (urlsplit(value).hostname or "").lower() == host]

    def host_not_found(self, error: BaseException, url: str) -> HostNotFoundError | None:
        """:func:`host_not_found` naming the settings on the URL's host.

        :param error: the connection error.
        :param url: the URL requested.
        """
        return host_not_found(error, url, self.settings_for_host(url))

    def is_edl(self, url: str) -> bool:
        """Whether a URL is on the EDL host.

        :param url: the URL.
        """
        return origin(url) == self._edl_origin

    def authorization(self, url: str) -> str | None:
        """The ``Authorization`` header value for a request to ``url``, or None.

        :param url: the request URL.
        """
        identity = self.identity
        if self.is_edl(url) and identity.can_log_in:
            return "Basic " + base64.b64encode(f"{identity.login}:{identity.password}".encode()).decode()
        if (
            identity.token
            and origin(url) in self._bearer_origins
            and not urlsplit(url).path.startswith(_NO_BEARER_PATHS)
        ):
            return f"Bearer {identity.token}"
        return None


def policy_for(identity: EarthdataIdentity, settings: EarthdataSettings) -> AuthPolicy:
    """Where credentials may be sent: Basic to EDL only; the token also to CMR and a TEA endpoint.

    :param identity: the user's identity.
    :param settings: the endpoints.
    """
    tea = settings.s3_credentials_url
    if tea and urlsplit(tea).path.startswith(_NO_BEARER_PATHS):
        tea = None  # the 2018 door takes its cookie only
    endpoints = {
        "edl_url": settings.edl_url,
        "cmr_url": settings.cmr_url,
        "s3_credentials_url": settings.s3_credentials_url,
        "archive_status_url": settings.archive_status_url,
        "s3_endpoint_url": settings.s3_endpoint_url,
    }
    return AuthPolicy(identity, settings.edl_url, [settings.cmr_url, tea], endpoints)


class _PolicyAuth(requests.auth.AuthBase):
    def __init__(self, policy: AuthPolicy) -> None:
        self.policy = policy

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        header = self.policy.authorization(request.url or "")
        if header and "Authorization" not in request.headers:
            request.headers["Authorization"] = header
        return request


class HopRetry(Retry):
    """urllib3's retry of one hop that never sends an OAuth callback (``?code=...``) twice: its authorization code
    is for one use, and the service may have redeemed it before it failed (a profile lookup answering 429), so
    only a new code, from the start of the chain, can succeed."""

    def increment(  # type: ignore[override]  # urllib3 types it as returning Self, which its callers need not
        self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any
    ) -> Retry:
        """Count one more try of the hop, refusing (as if exhausted) when it is an OAuth callback.

        :param method: the request's method.
        :param url: the hop's URL.
        """
        if url and "code" in parse_qs(urlsplit(url).query):
            refused = urllib3.exceptions.ResponseError("an OAuth callback is not sent twice")
            raise urllib3.exceptions.MaxRetryError(kwargs["_pool"], url, refused)
        return super().increment(method, url, *args, **kwargs)


def hop_retries() -> Retry:
    """How one hop of a redirect chain (door → EDL → door ``/login`` → door → signed URL) is asked again when it
    answers 429 or 5xx: twice, after a short backoff or its ``Retry-After``, before the whole request counts as
    failed and the caller's :class:`~airflow_asf_ifg.client.retry.RetryPolicy` starts the chain over (an OAuth
    callback excepted: :class:`HopRetry`). Without it a chain of five hops in a storm that fails four requests in
    ten succeeds one time in thirteen."""
    return HopRetry(
        total=2,
        connect=0,
        read=0,
        other=0,
        status=2,
        status_forcelist=RETRYABLE_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),  # idempotent only: a search POST is retried by its caller
        backoff_factor=0.25,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer goes back to the caller, which knows what it means
    )


class EarthdataSession(requests.Session):
    """A ``requests.Session`` that follows EDL's redirect dance and sends credentials only where allowed.

    :param policy: where credentials may go.
    :param verify: verify TLS certificates.
    :param timeout: default (connect, read) timeout in seconds.
    """

    def __init__(self, policy: AuthPolicy, *, verify: bool = True, timeout: tuple[float, float] = (10.0, 60.0)) -> None:
        super().__init__()
        self.policy = policy
        self.verify = verify
        self.timeout = timeout
        self.auth = _PolicyAuth(policy)  # also stops requests from reading .netrc for other hosts
        self.headers["User-Agent"] = USER_AGENT
        for scheme in ("https://", "http://"):
            self.mount(scheme, requests.adapters.HTTPAdapter(max_retries=hop_retries()))

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On every redirect hop: drop any Authorization header, then add what the policy allows there."""
        prepared_request.headers.pop("Authorization", None)
        header = self.policy.authorization(prepared_request.url or "")
        if header:
            prepared_request.headers["Authorization"] = header

    # requests' own signature names each keyword; this one passes them all through unchanged.
    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send a request with the session's default timeout unless one is given; a host that does not resolve
        raises :class:`~airflow_asf_ifg.exceptions.HostNotFoundError` (not retried) naming the setting to check."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as error:
            # A redirect hop may be the one that failed: its URL is on the error's request.
            failed_url = getattr(error.request, "url", None) or url
            not_found = self.policy.host_not_found(error, failed_url)
            if not_found is None:
                raise
            raise not_found from error

    def get_checked(self, url: str, **kwargs: Any) -> requests.Response:
        """GET ``url`` through any login redirects; raise a clear error when EDL refused the login.

        :param url: the URL.
        :param kwargs: passed to ``requests``.
        """
        response = self.get(url, **kwargs)
        check_login(
            self.policy,
            response.status_code,
            response.url,
            response.headers.get("Content-Type", ""),
            _small_text(response),
            [r.url for r in response.history],
        )
        return response


def _small_text(response: requests.Response) -> str:
    if response.status_code < 400 and "html" not in response.headers.get("Content-Type", ""):
        return ""
    return response.text[:4000]


def check_login(policy: AuthPolicy, status: int, url: str, content_type: str, body: str, history: list[str]) -> None:
    """Raise the error a user can act on when a request ended at an EDL refusal; else return.

    :param policy: the session's policy (who the user is, where EDL is).
    :param status: the final status.
    :param url: the final URL.
    :param content_type: the final Content-Type.
    :param body: the final body's text (only read for errors and HTML).
    :param history: URLs of the redirect hops.
    """
    identity = policy.identity
    query = parse_qs(urlsplit(url).query)
    if "error_msg" in query or ("error" in query and status >= 400):
        message = (query.get("error_msg") or query["error"])[0]
        resolution = query["resolution_url"][0] if query.get("resolution_url") else None
        hint = f"; fix it at {resolution}" if resolution else ""
        raise EarthdataLoginError(
            f"Earthdata Login refused the login of {identity.login or 'the user'}: {message}{hint}", resolution
        )
    document = _json(body) if status in (401, 403) else None
    if status == 403 and document and document.get("resolution_url"):
        raise EulaNotAcceptedError(
            f"Earthdata Login: {document.get('error_description', 'EULA not accepted')} for "
            f"{identity.login or 'the token user'}; log in at {document['resolution_url']} in a browser to "
            f"accept the application's EULA, then run again",
            document["resolution_url"],
        )
    came_through_edl = any(policy.is_edl(hop) for hop in history)
    if status == 401 and came_through_edl and not policy.is_edl(url):
        raise EarthdataLoginError(
            f"{urlsplit(url).netloc} refused the login after Earthdata Login: "
            f"{' '.join(body.split())[:200] or 'no reason given'}"
        )
    if status == 401 and policy.is_edl(url):
        if not identity.can_log_in and not identity.token:
            raise EarthdataLoginError(
                f"no Earthdata Login credentials: {url} asked for a login. Set login and password (or an EDL "
                f"token) in the earthdata connection, or add 'machine {urlsplit(policy.edl_url).hostname} login "
                f"... password ...' to ~/.netrc"
            )
        if not identity.can_log_in:
            raise EarthdataLoginError(
                f"{urlsplit(url).netloc} needs an Earthdata Login with login and password (the redirect to "
                f"EDL's /oauth/authorize cannot use a token); add them to the earthdata connection or ~/.netrc"
            )
        raise EarthdataLoginError(
            f"Earthdata Login answered 401 for user {identity.login!r} (from {identity.source}): wrong username "
            f"or password. Not retried, so that EDL does not lock the account; fix the credentials and run again"
        )
    if status == 401 and identity.token and document is not None:
        raise EarthdataLoginError(
            f"{urlsplit(url).netloc} refused the EDL token (401: "
            f"{document.get('error_description') or document.get('error') or body[:200]}); "
            f"create a new token at {policy.edl_url}/users/tokens"
        )
    if status == 200 and "html" in content_type and policy.is_edl(url):
        raise EarthdataLoginError(
            f"Earthdata Login answered with its HTML login page at {url} instead of data; "
            f"the request reached EDL without credentials it could use"
        )


def _json(body: str) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


@dataclass
class FetchedResponse:
    """An aiohttp answer read to the end, with its redirect hops.

    :param status: HTTP status.
    :param url: final URL.
    :param headers: final headers.
    :param body: final body.
    :param history: URLs of the redirect hops.
    """

    status: int
    url: str
    headers: dict[str, str]
    body: bytes
    history: list[str]

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class AsyncEarthdataSession:
    """The asyncio twin of :class:`EarthdataSession` for triggers: same policy, redirects followed by hand.

    aiohttp applies one ``Authorization`` header to every hop or none, so each hop is sent separately
    with the header the policy allows for that URL.

    :param policy: where credentials may go.
    :param verify: verify TLS certificates.
    :param timeout: total seconds per request.
    """

    def __init__(self, policy: AuthPolicy, *, verify: bool = True, timeout: float = 60.0) -> None:
        self.policy = policy
        self._verify = verify
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncEarthdataSession:
        # unsafe=True keeps cookies of hosts given as IP addresses (a sandbox or a private mirror).
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=self._timeout, headers={"User-Agent": USER_AGENT}
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the underlying aiohttp session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_redirects: int = 10,
        check: bool = True,
    ) -> FetchedResponse:
        """Send a request, follow redirects hop by hop, read the final body.

        :param method: HTTP method.
        :param url: the URL.
        :param headers: extra request headers.
        :param max_redirects: hops allowed before giving up.
        :param check: raise EDL's errors as :func:`check_login` does.
        """
        if self._session is None:
            raise RuntimeError("use AsyncEarthdataSession in 'async with'")
        history: list[str] = []
        for _ in range(max_redirects + 1):
            hop_headers = dict(headers or {})
            authorization = self.policy.authorization(url)
            if authorization:
                hop_headers["Authorization"] = authorization
            try:
                async with self._session.request(
                    method, url, headers=hop_headers, allow_redirects=False, ssl=bool(self._verify)
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        history.append(url)
                        url = urljoin(url, location)
                        if response.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                            method = "GET"
                        continue
                    body = await response.read()
                    fetched = FetchedResponse(response.status, url, dict(response.headers), body, history)
            except aiohttp.ClientConnectorError as error:
                not_found = self.policy.host_not_found(error, url)
                if not_found is None:
                    raise
                raise not_found from error
            if check:
                text = (
                    body[:4000].decode(errors="replace")
                    if fetched.status >= 400 or "html" in fetched.headers.get("Content-Type", "")
                    else ""
                )
                check_login(
                    self.policy, fetched.status, fetched.url, fetched.headers.get("Content-Type", ""), text, history
                )
            return fetched
        raise EarthdataLoginError(
            f"more than {max_redirects} redirects from {history[0]}; the login loop did not end (are cookies refused?)"
        )
