"""``asf-ifg download``: request archived files, wait for them, then download each with resume and MD5 check.

The 2018 page's second script, over the client layer: the door's download URL answers 202 for an archived
file and starts its retrieval; the door's status is polled until ``available``; then the file is streamed
through Earthdata Login into ``<file>.part`` and renamed once size and MD5 match CMR's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

from airflow_asf_ifg.cli.connection import Profile
from airflow_asf_ifg.client.archive import door_download_template
from airflow_asf_ifg.client.archive_poll import retrieve
from airflow_asf_ifg.client.cmr import CmrClient
from airflow_asf_ifg.client.download import download
from airflow_asf_ifg.client.granule import ProductFile, file_name, safe_file_name
from airflow_asf_ifg.client.polling import PollRound
from airflow_asf_ifg.client.settings import check_url
from airflow_asf_ifg.client.transfer import HttpsSource
from airflow_asf_ifg.exceptions import AsfIfgError, InvalidInputError

#: The 2018 page's three GRFN BETA collections, SENTINEL-1_INTERFEROGRAMS and ARIA_S1_GUNW.
INTERFEROGRAM_COLLECTIONS = (
    "C1379535891-ASF",
    "C1379522387-ASF",
    "C1379535600-ASF",
    "C1595422627-ASF",
    "C2859376221-ASF",
)


def name_candidates(name: str) -> list[str]:
    """Granule names a file name may belong to: the name less one dotted suffix at a time.

    ``<pgid>.unw_geo.zip`` belongs to producer granule id ``<pgid>``, ``<GranuleUR>.nc`` to ``<GranuleUR>``.

    :param name: the file name.
    """
    candidates, stem = [], name
    while "." in stem:
        stem = stem.rsplit(".", 1)[0]
        candidates.append(stem)
    return candidates or [name]


def targets(files: list[str], profile: Profile, from_cmr: bool = True) -> dict[str, str | None]:
    """File name → download URL for each argument (None: the URL in the file's CMR record, as today's services
    have no status endpoint to derive it from), refusing what cannot be downloaded before any request.

    :param files: the FILE|URL arguments.
    :param profile: the connection.
    :param from_cmr: whether CMR is asked about the files (not with ``--no-verify``).
    """
    template = door_download_template(profile.settings.archive_status_url)
    found: dict[str, str | None] = {}
    for item in files:
        if "://" in item:
            url = check_url("URL", item)
            name = safe_file_name(file_name(url), url)
        elif "/" in item or "\\" in item or not item.strip():
            raise InvalidInputError(f"{item!r} is neither a file name nor an http(s) URL")
        elif template is not None:
            name, url = safe_file_name(item), template.format(name=item)
        elif from_cmr:
            name, url = safe_file_name(item), None
        else:
            raise InvalidInputError(
                f"{item}: with --no-verify CMR is not asked for the file's URL, and {profile.fields.source} has "
                f"no door archive_status_url to derive it from; give the file's https URL (from `asf-ifg search "
                f"--format jsonl`) or leave out --no-verify"
            )
        if not name:
            raise InvalidInputError(f"{item!r} names no file")
        found[name] = url
    return found


def lookup(names: list[str], profile: Profile, collections: list[str]) -> dict[str, ProductFile]:
    """Each file's size and checksum from CMR; raise naming the files CMR does not know.

    :param names: file names.
    :param profile: the connection (CMR's URL).
    :param collections: collection concept ids to search.
    """
    wanted = sorted({c for name in names for c in name_candidates(name)})
    client = CmrClient(profile.session(), profile.settings.cmr_url)
    files: dict[str, ProductFile] = {}
    for granule in client.search(
        collection_concept_id=collections,
        readable_granule_name=wanted,
        limit=10 * len(names) + 10,
        on_incomplete="warn",
    ):
        files.update({f.name: f for f in granule.files if f.name in names})
    unknown = [name for name in names if name not in files]
    if unknown:
        raise AsfIfgError(
            f"CMR knows no file {', '.join(unknown)} in {', '.join(collections)}, so its size and MD5 "
            f"cannot be checked; pass --collection ID, or --no-verify to download it unchecked"
        )
    return files


def record_url(product: ProductFile) -> str:
    """The HTTPS URL of a file's CMR record; raise when the record lists none.

    :param product: the file as CMR lists it.
    """
    if not product.url:
        raise AsfIfgError(f"CMR's record of {product.name} lists no HTTPS URL to download it from")
    return product.url


class RetrievalDisplay:
    """Prints the waiting's progress to stderr: a line when the counts change, else at most every ``every`` s.

    :param every: seconds between repeated lines.
    """

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self._last: tuple[str, float] | None = None

    def __call__(self, poll_round: PollRound) -> None:
        """Report the states after one round of polls.

        :param poll_round: each file's state and the seconds waited so far.
        """
        counts = Counter(s.state.value for s in poll_round.states.values())
        text = ", ".join(
            f"{counts[state]} {state}" for state in ("available", "retrieving", "archived", "missing") if counts[state]
        )
        now = time.monotonic()
        if self._last and self._last[0] == text and now - self._last[1] < self.every:
            return
        self._last = (text, now)
        print(f"retrieval: {text} ({poll_round.elapsed:.0f} s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Retrieve, wait, download and verify; print one line per file written.

    :param args: the parsed arguments.
    """
    profile = Profile.load(args.conn_uri, args.conn_id)
    output = Path(args.output_dir)
    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"--output-dir {output} exists and is not a directory")
    wanted = targets(args.files, profile, from_cmr=not args.no_verify)
    collections = args.collection or list(INTERFEROGRAM_COLLECTIONS)
    checked = {} if args.no_verify else lookup(list(wanted), profile, collections)
    urls = {name: url or record_url(checked[name]) for name, url in wanted.items()}

    asyncio.run(
        retrieve(
            profile.async_session,
            urls,
            status_template=profile.settings.archive_status_url,
            poll_interval=args.poll,
            timeout=args.timeout,
            report=RetrievalDisplay(),
        )
    )
    session = profile.session()
    for name, url in urls.items():
        known = checked.get(name)
        result = download(
            HttpsSource(session, url),
            output / name,
            size=known.size_bytes if known else None,
            checksum=known.checksum if known else None,
            algorithm=known.checksum_algorithm if known else "MD5",
        )
        verified = "size and MD5 match CMR" if known else "not verified"
        sys.stdout.write(f"{result.path}  {result.size} bytes  {result.checksum}  {result.status}, {verified}\n")
    return 0
