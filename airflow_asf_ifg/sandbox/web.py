"""What every sandbox HTTP service shares: counting, latency, injected faults, bodies cut off mid-way."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, cast

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_asf_ifg.sandbox.state import FaultInjector, Stats

#: Set on a request when its body is to be cut off part-way (a drawn ``reset`` fault).
RESET_KEY = web.RequestKey("reset", bool)
STATS_KEY = web.RequestKey("stats", object)


def service_middleware(stats: Stats, faults: FaultInjector, throttle_body: Callable[[], web.Response]):
    """Build the middleware that counts each request by route name and injects faults.

    Routes whose name starts with ``control_`` are the sandbox's own and never fail.

    :param stats: where requests are counted.
    :param faults: the fault draws.
    :param throttle_body: makes the service's 429 answer.
    """

    @web.middleware
    async def middleware(request: web.Request, handler):
        route = request.match_info.route.name or "unknown"
        stats.record(route, request.host, "Authorization" in request.headers)
        if route.startswith("control_"):
            return await handler(request)
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        fault = faults.draw()
        if fault == "throttle":
            stats.event("fault_throttle")
            return throttle_body()
        if fault == "error":
            stats.event("fault_error")
            status = faults.error_status()
            return web.json_response({"errors": [f"sandbox fault: HTTP {status}"]}, status=status)
        request[RESET_KEY] = fault == "reset"
        request[STATS_KEY] = stats
        return await handler(request)

    return middleware


async def send(
    request: web.Request,
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Send a complete body, or half of it and then reset the connection when a reset was drawn.

    :param request: the request being answered.
    :param body: the response body.
    :param status: HTTP status.
    :param content_type: Content-Type header.
    :param headers: extra headers.
    """
    if not request.get(RESET_KEY) or len(body) < 2 or request.method == "HEAD":
        return web.Response(
            body=body, status=status, content_type=None, headers={"Content-Type": content_type, **(headers or {})}
        )
    cast("Stats", request[STATS_KEY]).event("fault_reset")
    response = web.StreamResponse(status=status, headers={"Content-Type": content_type, **(headers or {})})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()  # the client sees the connection drop with the body half sent
    return response


def pretty_json(document: object) -> bytes:
    """JSON with 4-space indent, as the 2018 door's Flask handlers wrote it.

    :param document: the JSON document.
    """
    return json.dumps(document, indent=4).encode()
