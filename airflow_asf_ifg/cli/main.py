"""The ``asf-ifg`` console script: argument parsing, dispatch and exit codes.

Exit codes: 0 success; 2 bad usage or input (argparse's convention), reported before any network call;
1 any other failure (login refused, service error, checksum mismatch, timeout). Each command's module is
imported only when it runs, so ``--help`` does not pay for requests, boto3 or aiohttp.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys
from collections.abc import Callable, Sequence

from airflow_asf_ifg.cli import DEFAULT_CONN_ID

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SEARCH_FORMATS = ("table", "jsonl", "geojson")
CREDENTIAL_FORMATS = ("env", "gdal", "json")
STATUS_FORMATS = ("table", "json")
_EPILOG = """identity and endpoints, in order: --conn-uri or $AIRFLOW_CONN_EARTHDATA_DEFAULT (Airflow's URI or JSON
form), then ~/.netrc (or $NETRC) for the EDL host, then $EARTHDATA_TOKEN or $EARTHDATA_USERNAME and
$EARTHDATA_PASSWORD.
exit codes: 0 ok, 1 failure (login refused, service error, checksum mismatch), 2 bad usage or input (refused
before any request)."""


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'number' if kind is float else 'whole number'}"
            ) from None
        if not math.isfinite(value) or value <= 0:  # NaN compares false with everything: a wait that never ends
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0 (a finite number)")
        return value

    return convert


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--conn-uri",
        metavar="URI",
        help="the earthdata connection (Airflow URI or JSON form); default $AIRFLOW_CONN_<CONN_ID>",
    )
    common.add_argument("--conn-id", default=DEFAULT_CONN_ID, help="read $AIRFLOW_CONN_<CONN_ID> (default %(default)s)")
    common.add_argument("-v", "--verbose", action="store_true", help="log each request and page on stderr")
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="asf-ifg",
        formatter_class=formatter,
        epilog=_EPILOG,
        description="Find, check and fetch ASF Sentinel-1 interferograms from the "
        "command line, as on ASF's 2018 'Command Line Tools' page.",
    )
    from airflow_asf_ifg import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    search = commands.add_parser(
        "search",
        parents=[common],
        formatter_class=formatter,
        epilog=_EPILOG,
        help="search CMR for granules",
        description="Search CMR for granules of one or "
        "more collections over an area and a time window. Needs no login.",
    )
    search.add_argument(
        "collection",
        nargs="+",
        help="collection concept id (C2859376221-ASF for ARIA_S1_GUNW, "
        "C1379535600-ASF for the 2018 GRFN BETA unwrapped products) or short name",
    )
    search.add_argument("--aoi", help="area of interest: WKT, GeoJSON, 'west,south,east,north' or 'lon,lat'")
    search.add_argument("--start", help="acquired on or after (ISO 8601, e.g. 2018-01-01)")
    search.add_argument("--end", help="acquired on or before (ISO 8601)")
    search.add_argument(
        "--max", type=_positive(int), default=50, help="at most this many granules (default %(default)s)"
    )
    search.add_argument(
        "--format",
        choices=SEARCH_FORMATS,
        default="table",
        help="table (default), jsonl (one "
        "granule dict a line, as CmrSearchOperator returns) or geojson (a FeatureCollection)",
    )

    credentials = commands.add_parser(
        "credentials",
        parents=[common],
        formatter_class=formatter,
        epilog=_EPILOG,
        help="print temporary S3 keys as export lines",
        description="Log in and print ASF's temporary S3 keys "
        "as 'export NAME=value' lines for eval, as the 2018 page's script did; the expiration goes to stderr. "
        "This command prints secrets, by design.",
    )
    credentials.add_argument(
        "--format",
        choices=CREDENTIAL_FORMATS,
        default="env",
        help="env (AWS_* for the AWS "
        "CLI and boto3, default), gdal (every option GDAL's /vsis3/ needs, also as export "
        "lines) or json",
    )
    credentials.add_argument(
        "--endpoint", metavar="URL", help="the credentials URL (default: the connection's s3_credentials_url)"
    )
    credentials.add_argument(
        "--region",
        help="region to sign for (default: the connection's region_name, else "
        "us-east-1 for the 2018 door and us-west-2 for TEA)",
    )

    status = commands.add_parser(
        "status",
        parents=[common],
        formatter_class=formatter,
        epilog=_EPILOG,
        help="archive state of product files",
        description="Print whether each product "
        "file is available, archived (in long-term storage) or being retrieved: from the "
        "2018 door's status URL (archive_status_url), or with S3 HeadObject for s3:// URLs.",
    )
    status.add_argument("files", nargs="+", metavar="FILE", help="file name, door URL or s3://bucket/key")
    status.add_argument("--format", choices=STATUS_FORMATS, default="table", help="table (default) or json")

    download = commands.add_parser(
        "download",
        parents=[common],
        formatter_class=formatter,
        epilog=_EPILOG,
        help="retrieve archived files, then download them verified",
        description="Request the retrieval of archived files, wait for them with a progress display, then "
        "download each with resume (a .part file) and check its size and MD5 against CMR, as the 2018 page's "
        "second script did.",
    )
    download.add_argument(
        "files",
        nargs="+",
        metavar="FILE|URL",
        help="file name (the door's download URL is derived from archive_status_url) or an https URL",
    )
    download.add_argument("-o", "--output-dir", default=".", metavar="DIR", help="where to write (default: here)")
    download.add_argument(
        "--collection",
        action="append",
        metavar="ID",
        help="collections to look the files up in for size and MD5 (default: the five ASF interferogram collections)",
    )
    download.add_argument(
        "--no-verify", action="store_true", help="download files that CMR does not know, without a size and MD5 check"
    )
    download.add_argument(
        "--poll",
        type=_positive(float),
        default=30.0,
        metavar="SECONDS",
        help="seconds between archive status polls (default %(default)s)",
    )
    download.add_argument(
        "--timeout",
        type=_positive(float),
        default=6 * 3600.0,
        metavar="SECONDS",
        help="give up waiting for retrievals after this long (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s", stream=sys.stderr
    )
    # Progress lines of downloads are wanted without --verbose.
    logging.getLogger("airflow_asf_ifg.client.transfer").setLevel(logging.INFO)
    from airflow_asf_ifg.exceptions import AsfIfgError, InvalidInputError

    try:
        command = importlib.import_module(f"airflow_asf_ifg.cli.{args.command}")
        return command.run(args)
    except InvalidInputError as error:  # refused before any request: bad usage
        print(f"asf-ifg {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (AsfIfgError, OSError, ValueError) as error:  # a refused login, a service error, an answer not understood
        print(f"asf-ifg {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def entry_point() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
