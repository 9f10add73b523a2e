"""The Airflow settings every process of a CeleryExecutor deployment needs: one source for the test cluster
(which writes them into the airflow.cfg all its processes share) and for docker-compose.yaml (which a test
checks against them).

Addresses differ between the two (loopback ports here, compose service names there), so each setting is a
function of :class:`Endpoints`; values are compared with :func:`same_value`, which reads URLs as URLs.
"""

from __future__ import annotations

import configparser
import io
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
#: Generated once per deployment and shared by every process: task tokens are signed and checked with the
#: JWT secret (scheduler, API server, workers), stored connections are decrypted with the Fernet key, the API
#: server's sessions are signed with the secret key. A process with another value fails at its first call.
SHARED_SECRETS: tuple[tuple[str, str], ...] = (
    ("api_auth", "jwt_secret"),
    ("api", "secret_key"),
    ("core", "fernet_key"),
)

Setting = tuple[str, str]


@dataclass(frozen=True)
class Endpoints:
    """Where a deployment's processes find each other.

    :param api_server: the API server's base URL as the workers and the triggerer reach it.
    :param redis: the broker's ``host:port``.
    :param database: PostgreSQL's ``user:password@host[:port]/database``.
    """

    api_server: str
    redis: str
    database: str


def shared_settings(endpoints: Endpoints) -> dict[Setting, str]:
    """The settings (section, key) → value that every Airflow process of the deployment must agree on.

    :param endpoints: where the API server, Redis and PostgreSQL are.
    """
    return {
        ("core", "executor"): "CeleryExecutor",
        # Workers and the triggerer run tasks through the Task Execution API, not the database.
        ("core", "execution_api_server_url"): f"{endpoints.api_server}/execution/",
        ("core", "auth_manager"): SIMPLE_AUTH_MANAGER,
        ("core", "load_examples"): "False",
        ("database", "sql_alchemy_conn"): f"postgresql+psycopg2://{endpoints.database}",
        ("celery", "broker_url"): f"redis://{endpoints.redis}/0",
        # Task states from Celery go to the metadata database, not to Redis, so they outlive a broker restart.
        ("celery", "result_backend"): f"db+postgresql://{endpoints.database}",
    }


def generate_secrets() -> dict[Setting, str]:
    """Fresh values for :data:`SHARED_SECRETS`, the kinds Airflow generates itself when it writes airflow.cfg."""
    return {
        ("api_auth", "jwt_secret"): secrets.token_urlsafe(32),
        ("api", "secret_key"): secrets.token_urlsafe(16),
        ("core", "fernet_key"): Fernet.generate_key().decode(),
    }


def environment_name(setting: Setting) -> str:
    """The environment variable that sets a setting (``AIRFLOW__SECTION__KEY``).

    :param setting: (section, key).
    """
    section, key = setting
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def config_text(settings: dict[Setting, str]) -> str:
    """An airflow.cfg holding ``settings``.

    :param settings: (section, key) → value.
    """
    parser = configparser.ConfigParser(interpolation=None)
    for (section, key), value in sorted(settings.items()):
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, value)
    text = io.StringIO()
    parser.write(text)
    return text.getvalue()


def _normalised(value: str) -> object:
    """A value as it means something: URLs by their parts (``redis://:@host`` is ``redis://host``), booleans
    by their truth, anything else as written."""
    if "://" in value:
        parts = urlsplit(value)
        return (
            parts.scheme,
            parts.username or None,
            parts.password or None,
            parts.hostname,
            parts.port,
            parts.path.rstrip("/") or "/",
            parts.query,
        )
    if value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def same_value(a: str, b: str) -> bool:
    """Whether two setting values mean the same to Airflow.

    :param a: one value.
    :param b: the other.
    """
    return _normalised(a) == _normalised(b)
