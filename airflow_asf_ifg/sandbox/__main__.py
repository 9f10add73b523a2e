"""Command line of the sandbox: ``python -m airflow_asf_ifg.sandbox serve [options]``."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading

from airflow_asf_ifg.sandbox.config import ERAS, SandboxConfig

#: How ``serve`` prints its settings: ``export NAME='value'`` lines to paste into a shell, plain ``NAME=value``
#: lines for machines (docker env files, test harnesses), or one JSON object.
FORMATS = ("shell", "env", "json")


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` command's arguments, named as other tools call them."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_asf_ifg.sandbox",
        description="Offline stand-in for CMR, Earthdata Login, the ASF door/TEA and S3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve until SIGTERM or SIGINT",
        description="Serve on 127.0.0.1 (CMR, control), 127.0.0.2 (EDL), "
        "127.0.0.3 (door, TEA) and 127.0.0.4 (S3), or with --host on one "
        "address and four ports.",
    )
    defaults = SandboxConfig()
    serve.add_argument(
        "--era",
        choices=ERAS,
        default=defaults.era,
        help="answer as the services do today (default: HTTPS through the door only, no door "
        "credentials, status or Glacier) or as in 2018 (door status, retrievals, STS keys)",
    )
    serve.add_argument(
        "--tea",
        action="store_true",
        help="ARIA_S1_GUNW records also list s3:// links and /s3credentials serves in-region keys, "
        "as for Cumulus-served collections (not so for GRFN today)",
    )
    serve.add_argument(
        "--format",
        choices=FORMATS,
        default="shell",
        help="print the settings as shell exports to paste (default), as plain NAME=value lines "
        "(env files, scripts) or as one JSON object; READY follows",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=0,
        help="port for every service, or with --host the first of four (CMR, EDL, door/TEA, S3); "
        "0 (default) picks free ports",
    )
    serve.add_argument(
        "--host",
        metavar="ADDRESS",
        help="listen on this one address (0.0.0.0 in a container) instead of the loopback addresses",
    )
    serve.add_argument(
        "--public-host",
        metavar="NAME",
        help="host name in every URL handed out (CMR records, redirects, connections), e.g. the "
        "compose service name; needs --host",
    )
    serve.add_argument(
        "--bucket",
        dest="buckets",
        action="append",
        default=[],
        metavar="NAME",
        help="create this empty bucket for users at start, e.g. a DAG's destination (repeatable)",
    )
    serve.add_argument("--seed", type=int, default=defaults.seed, help="catalogue and fault seed")
    serve.add_argument("--granules", type=int, default=defaults.granules, help="granules per collection")
    serve.add_argument("--product-bytes", type=int, default=defaults.product_bytes, help="size of each product")
    serve.add_argument(
        "--credential-ttl",
        type=float,
        default=defaults.credential_ttl,
        metavar="SECONDS",
        help="lifetime of temporary S3 credentials",
    )
    serve.add_argument(
        "--retrieval-seconds",
        type=float,
        default=defaults.retrieval_seconds,
        metavar="SECONDS",
        help="time a retrieval from long-term storage takes",
    )
    serve.add_argument(
        "--archived-fraction",
        type=float,
        default=defaults.archived_fraction,
        metavar="F",
        help="share of products that start archived (GLACIER)",
    )
    serve.add_argument(
        "--credentials-gone",
        action="store_true",
        help="in the 2018 era, /door/credentials answers 410 Gone, as it has since 2020",
    )
    serve.add_argument("--fault-rate", type=float, default=0.0, metavar="F", help="share of requests answered 500/503")
    serve.add_argument("--throttle-rate", type=float, default=0.0, metavar="F", help="share answered 429 / SlowDown")
    serve.add_argument(
        "--reset-rate", type=float, default=0.0, metavar="F", help="share of bodies cut off by a connection reset"
    )
    serve.add_argument("--latency-ms", type=int, default=0, metavar="N", help="delay added to every request")
    serve.add_argument(
        "--s3-connection-mib-s",
        type=float,
        default=0.0,
        metavar="MIB_S",
        help="pace each S3 object body to this many MiB/s, as one connection to S3 gets (0: unpaced)",
    )
    serve.add_argument(
        "--metadata-only",
        action="store_true",
        help="serve CMR records only (no product bytes), for catalogues of many granules",
    )
    return parser


def render(environment: dict[str, str], output_format: str) -> str:
    """The settings as ``serve`` prints them, before ``READY``.

    :param environment: name → value, from ``Sandbox.environment()``.
    :param output_format: one of :data:`FORMATS`.
    """
    if output_format == "shell":
        return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in environment.items())
    if output_format == "env":
        return "\n".join(f"{name}={value}" for name, value in environment.items())
    if output_format == "json":
        return json.dumps(environment)
    raise ValueError(f"format {output_format!r} is not one serve prints; accepted: {', '.join(FORMATS)}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code.

    :param argv: arguments (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("command", "format")}
    try:
        config = SandboxConfig(**options)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from airflow_asf_ifg.sandbox.server import Sandbox

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sandbox = Sandbox(config)
    try:
        sandbox.start()
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        print(render(sandbox.environment(), args.format))
        print("READY", flush=True)
        stop.wait()
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
