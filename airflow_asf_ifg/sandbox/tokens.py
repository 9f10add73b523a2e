"""Signed JWTs (HS256) for the sandbox's EDL user tokens and the ASF ``asf-urs`` cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, object], key: bytes) -> str:
    """Sign ``claims`` into a compact JWT.

    :param claims: the payload.
    :param key: the HMAC key.
    """
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def claims_unverified(token: str) -> dict[str, object] | None:
    """Read a JWT's payload without checking it, as TEA reads a bearer token's ``uid``.

    :param token: the compact JWT.
    """
    try:
        return json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError):
        return None


def decode(token: str, key: bytes) -> dict[str, object] | None:
    """Return the claims of a JWT signed with ``key`` and not expired, else None.

    :param token: the compact JWT.
    :param key: the HMAC key.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
    except ValueError:
        return None
    claims = claims_unverified(token)
    expires = claims.get("exp", 0) if claims else 0
    if not claims or not isinstance(expires, int | float) or expires < time.time():
        return None
    return claims
