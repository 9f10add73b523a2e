"""The provider's Airflow plugin: the "ASF retrievals" page in the UI's navigation (Airflow 3.1 and later).

Installing the package registers it (entry point ``airflow.plugins``); the API server mounts its FastAPI
app at ``/asf-ifg`` and the UI lists the page under "Plugins".
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

__all__ = ["URL_PREFIX", "AsfIfgPlugin", "LazyRetrievalsApp"]

URL_PREFIX = "/asf-ifg"


class LazyRetrievalsApp:
    """The page's ASGI app, built at its first request.

    Every Airflow process loads the plugins (a task's process too, for macros); only the API server serves
    the page, so FastAPI and the page's module are imported there, when the page is first asked for.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI event (HTTP request or lifespan) through the page's FastAPI app."""
        if self._app is None:
            from airflow_asf_ifg.plugins.retrievals import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class AsfIfgPlugin(AirflowPlugin):
    """Registers the "ASF retrievals" page: its FastAPI app and its entry in the UI's navigation."""

    name = "asf_ifg"
    fastapi_apps = [{"app": LazyRetrievalsApp(), "url_prefix": URL_PREFIX, "name": "ASF retrievals"}]
    external_views = [
        {
            "name": "ASF retrievals",
            "href": f"{URL_PREFIX}/retrievals",
            "destination": "nav",
            "url_route": "asf-retrievals",
        }
    ]
