"""The sandbox's synthetic catalogue: collections and granules over California, deterministic from a seed.

Records are shaped like the real ones in ``shared/reference/samples`` (ARIA_S1_GUNW UMM-G from CMR, the
2018 GRFN BETA collections), with names built by the real naming rules.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from airflow_asf_ifg.client.geometry import Ring, bounds
from airflow_asf_ifg.sandbox.config import BROWSE_BUCKET, PRODUCT_BUCKET

#: The 2018 page's example point (Pasadena, CA), covered by several granules of every collection.
PASADENA = (-118.1445, 34.1478)


@dataclass(frozen=True)
class Collection:
    """One CMR collection the sandbox serves.

    :param concept_id: CMR concept id.
    :param short_name: UMM-C ShortName.
    :param version: UMM-C Version.
    :param title: EntryTitle (``dataset_id`` in Atom results).
    :param family: naming family: ``beta-all``, ``beta-wrapped``, ``beta-unwrapped``, ``gunw-v2``, ``gunw-v3``.
    :param first_year: first acquisition year.
    :param last_year: last acquisition year.
    """

    concept_id: str
    short_name: str
    version: str
    title: str
    family: str
    first_year: int
    last_year: int

    @property
    def is_beta(self) -> bool:
        """Whether this is one of the 2018 GRFN BETA collections (zip products)."""
        return self.family.startswith("beta")


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "C1379535891-ASF",
        "SENTINEL-1_INSAR_ALL_INTERFEROMETRIC_PRODUCTS",
        "1",
        "Sentinel-1 All Interferometric Products (BETA)",
        "beta-all",
        2016,
        2018,
    ),
    Collection(
        "C1379522387-ASF",
        "SENTINEL-1_INSAR_FULL_RES_WRAPPED_INTERFEROGRAM_AND_DEM",
        "1",
        "Sentinel-1 Full Resolution Wrapped Interferogram and DEM (BETA)",
        "beta-wrapped",
        2016,
        2018,
    ),
    Collection(
        "C1379535600-ASF",
        "SENTINEL-1_INSAR_UNWRAPPED_INTERFEROGRAM_AND_COHERENCE_MAP",
        "1",
        "Sentinel-1 Unwrapped Interferogram and Coherence Map (BETA)",
        "beta-unwrapped",
        2016,
        2018,
    ),
    Collection("C1595422627-ASF", "SENTINEL-1_INTERFEROGRAMS", "1", "Sentinel-1 Interferograms", "gunw-v2", 2019, 2023),
    Collection(
        "C2859376221-ASF",
        "ARIA_S1_GUNW",
        "1",
        "ARIA Sentinel-1 Geocoded Unwrapped Interferograms",
        "gunw-v3",
        2019,
        2025,
    ),
)

_BETA_SUFFIX = {
    "beta-all": ("", ".zip"),
    "beta-wrapped": ("-Wrapped", ".full_res.zip"),
    "beta-unwrapped": ("-Unwrapped", ".unw_geo.zip"),
}


@dataclass(frozen=True)
class CatalogueFile:
    """One file of a granule as CMR lists it and S3 holds it.

    :param name: file name (also the S3 key and the door's object key).
    :param role: ``data``, ``browse`` or ``metadata``.
    :param bucket: S3 bucket holding it.
    :param format: CMR ``Format``.
    :param seed: seed of its bytes.
    :param archived: whether it starts in GLACIER storage.
    """

    name: str
    role: str
    bucket: str
    format: str
    seed: int
    archived: bool = False


@dataclass
class Granule:
    """One synthetic granule with everything its CMR records need.

    :param concept_id: CMR granule concept id.
    :param sequence: the concept's sequence number (CMR's search-after tie breaker).
    :param collection: its collection.
    :param granule_ur: GranuleUR.
    :param producer_granule_id: the product name without collection suffix.
    :param start: acquisition start (UTC).
    :param end: acquisition end (UTC).
    :param secondary_date: the secondary acquisition (UTC) of the interferometric pair.
    :param revision_date: CMR revision date (UTC).
    :param footprint: counter-clockwise closed ring of (lon, lat).
    :param path: relative orbit (track).
    :param frame: frame number.
    :param direction: ``ascending`` or ``descending``.
    :param platform: ``Sentinel-1A`` or ``Sentinel-1B``.
    :param files: the granule's files, data first.
    :param sizes: file name → (size in bytes, md5), filled in when the bytes are built.
    :param revision_id: CMR revision id (a new revision of the granule raises it).
    """

    concept_id: str
    sequence: int
    collection: Collection
    granule_ur: str
    producer_granule_id: str
    start: datetime
    end: datetime
    secondary_date: datetime
    revision_date: datetime
    footprint: Ring
    path: int
    frame: int
    direction: str
    platform: str
    files: list[CatalogueFile]
    sizes: dict[str, tuple[int, str]] = field(default_factory=dict)
    revision_id: int = 1

    @property
    def data_file(self) -> CatalogueFile:
        """The product file (what ``GET DATA`` points to)."""
        return self.files[0]


def _footprint(center: tuple[float, float], direction: str) -> Ring:
    # A Sentinel-1 frame is about 250 km across track and 200 km along it; ascending tracks lean
    # west of north by ~12 degrees, descending tracks east of south.
    half_across, half_along = 1.25, 0.9
    tilt = math.radians(-12.0 if direction == "ascending" else 12.0)
    corners = [
        (-half_across, -half_along),
        (half_across, -half_along),
        (half_across, half_along),
        (-half_across, half_along),
    ]
    ring = []
    for x, y in corners:
        lon = center[0] + (x * math.cos(tilt) - y * math.sin(tilt)) / math.cos(math.radians(center[1]))
        lat = center[1] + x * math.sin(tilt) + y * math.cos(tilt)
        ring.append((round(lon, 6), round(lat, 6)))
    ring.append(ring[0])
    return ring


def _short_hash(*parts: object) -> str:
    return hashlib.md5("|".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()[:4]


def _names(
    collection: Collection, ref: datetime, sec: datetime, track: int, direction: str, ring: Ring
) -> tuple[str, str]:
    """(GranuleUR, producer granule id) by the naming rules of each product family."""
    west, south, _, north = bounds(ring)
    tag = _short_hash(collection.concept_id, ref, sec, track)
    if collection.is_beta:
        pgid = f"S1-IFG_RM_M1S1_TN{track:03d}_{ref:%Y%m%dT%H%M%S}-{sec:%Y%m%dT%H%M%S}_s1-resorb-{tag}-v1.2.1-standard"
        return pgid + _BETA_SUFFIX[collection.family][0], pgid
    flight = direction[0].upper()
    if collection.family == "gunw-v2":
        geo = (
            f"{round(abs(north) * 1000):05d}{'N' if north >= 0 else 'S'}_"
            f"{round(abs(south) * 1000):05d}{'N' if south >= 0 else 'S'}"
        )
        version = "v2_0_4"
    else:
        geo = f"{round(abs(west)):05d}{'E' if west >= 0 else 'W'}_{round(abs(south)):05d}{'N' if south >= 0 else 'S'}"
        version = "v3_0_1"
    name = f"S1-GUNW-{flight}-R-{track:03d}-tops-{ref:%Y%m%d}_{sec:%Y%m%d}-{ref:%H%M%S}-{geo}-PP-{tag}-{version}"
    return name, name


def _files(
    collection: Collection,
    ur: str,
    pgid: str,
    rng: random.Random,
    archived_fraction: float,
    archived: bool | None = None,
) -> list[CatalogueFile]:
    drawn = rng.random() < archived_fraction
    archived = drawn if archived is None else archived
    if collection.is_beta:
        data_name = pgid + _BETA_SUFFIX[collection.family][1]
        data = CatalogueFile(data_name, "data", PRODUCT_BUCKET, "ZIP", rng.getrandbits(32), archived)
        browse = CatalogueFile(pgid + ".png", "browse", BROWSE_BUCKET, "PNG", rng.getrandbits(32))
        return [data, browse]
    data = CatalogueFile(ur + ".nc", "data", PRODUCT_BUCKET, "netCDF-3", rng.getrandbits(32), archived)
    browse = CatalogueFile(ur + ".png", "browse", BROWSE_BUCKET, "PNG", rng.getrandbits(32))
    metadata = CatalogueFile(ur + ".json", "metadata", BROWSE_BUCKET, "JSON", rng.getrandbits(32))
    return [data, browse, metadata]


def _pinned_archived(index: int, archived_fraction: float) -> bool | None:
    if not 0 < archived_fraction < 1 or index > 1:
        return None
    return index == 0


#: Interferograms come in groups: each new acquisition of a frame is paired with the few before it (ARIA's
#: nearest-neighbour pairs), so one day brings several products with the same reference date and footprint.
PAIRS_PER_ACQUISITION = 3


def build_catalogue(seed: int, granules_per_collection: int, archived_fraction: float) -> list[Granule]:
    """Make the catalogue: ``granules_per_collection`` granules in each collection, in groups of pairs.

    Each group shares a reference acquisition, track and footprint (secondaries 6, 12, 18... days earlier);
    every other group lies over Pasadena, so a daily window there finds several products. In the first
    group of each collection the first product is archived and the second is not (when the fraction is
    strictly between 0 and 1), so even a tiny catalogue has both kinds over Pasadena on one day.

    :param seed: the seed everything follows from.
    :param granules_per_collection: granules in each collection.
    :param archived_fraction: probability that a product starts archived (GLACIER).
    """
    rng = random.Random(seed)
    catalogue: list[Granule] = []
    sequence = 1_500_000_000 + rng.randrange(1_000_000)
    for collection in COLLECTIONS:
        first = datetime(collection.first_year, 1, 1, tzinfo=UTC)
        span = datetime(collection.last_year, 12, 31, tzinfo=UTC) - first
        for index in range(granules_per_collection):
            group, pair = divmod(index, PAIRS_PER_ACQUISITION)
            if pair == 0:
                direction = rng.choice(["ascending", "descending"])
                if group % 2 == 0:
                    center = (PASADENA[0] + rng.uniform(-0.4, 0.4), PASADENA[1] + rng.uniform(-0.3, 0.3))
                else:
                    center = (rng.uniform(-123.5, -115.5), rng.uniform(32.8, 41.0))
                ring = _footprint(center, direction)
                track = rng.randrange(1, 176)
                frame = rng.randrange(1, 30000)
                ref = (first + timedelta(seconds=rng.randrange(int(span.total_seconds())))).replace(microsecond=0)
                platform = "Sentinel-1B" if ref.year < 2022 and rng.random() < 0.5 else "Sentinel-1A"
            sec = ref - timedelta(days=6 * (pair + 1))
            start, end = ref, ref + timedelta(seconds=52)
            ur, pgid = _names(collection, ref, sec, track, direction, ring)
            sequence += rng.randrange(1, 5000)
            catalogue.append(
                Granule(
                    concept_id=f"G{sequence}-ASF",
                    sequence=sequence,
                    collection=collection,
                    granule_ur=ur,
                    producer_granule_id=pgid,
                    start=start,
                    end=end,
                    secondary_date=sec,
                    revision_date=(ref + timedelta(days=rng.randrange(1, 40), seconds=rng.randrange(86400))),
                    footprint=ring,
                    path=track,
                    frame=frame,
                    direction=direction,
                    platform=platform,
                    files=_files(
                        collection, ur, pgid, rng, archived_fraction, _pinned_archived(index, archived_fraction)
                    ),
                )
            )
    return catalogue


def first_pair_group(catalogue: list[Granule], concept_id: str) -> list[Granule]:
    """The first group of pairs of a collection: over Pasadena, one product archived and one not (when the
    catalogue was built with an archived fraction strictly between 0 and 1). The demo ingests its day.

    :param catalogue: the catalogue.
    :param concept_id: the collection's concept id.
    """
    granules = [g for g in catalogue if g.collection.concept_id == concept_id]
    if not granules:
        raise LookupError(f"the sandbox has no collection {concept_id}")
    return [g for g in granules if g.start == granules[0].start]


def new_granule(like: Granule, reference: datetime, sequence: int, seed: int) -> Granule:
    """A granule newly produced after ``like``: same collection, track and footprint, a new acquisition.

    Its secondary acquisition is 12 days before ``reference`` (a nearest-neighbour pair), its names follow
    the product family's rules, and it is online (never archived) and revised now.

    :param like: the granule whose frame it covers.
    :param reference: its reference acquisition (UTC).
    :param sequence: its concept's sequence number (larger than any other).
    :param seed: the seed of its bytes.
    """
    reference = reference.astimezone(UTC).replace(microsecond=0)
    secondary = reference - timedelta(days=12)
    ur, pgid = _names(like.collection, reference, secondary, like.path, like.direction, like.footprint)
    return Granule(
        concept_id=f"G{sequence}-ASF",
        sequence=sequence,
        collection=like.collection,
        granule_ur=ur,
        producer_granule_id=pgid,
        start=reference,
        end=reference + timedelta(seconds=52),
        secondary_date=secondary,
        revision_date=datetime.now(UTC).replace(microsecond=0),
        footprint=like.footprint,
        path=like.path,
        frame=like.frame,
        direction=like.direction,
        platform=like.platform,
        files=_files(like.collection, ur, pgid, random.Random(seed), 0.0, archived=False),
    )
