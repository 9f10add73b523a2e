"""One layer of a GRFN product, read in place from its zip on S3 through GDAL, written as a Cloud-Optimized GeoTIFF.

GDAL's ``/vsizip//vsis3/`` reads the zip's central directory and then only the byte ranges of the member it
needs (``/vsizip/`` seeks in stored members; the VRT's ``ImageOffset`` picks one band out of the raw file), so
a layer costs a fraction of the product's bytes. rasterio (the ``gdal`` extra) brings its own GDAL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "GRFN_BUCKET",
    "LAYERS",
    "ZIP_SUFFIXES",
    "CogResult",
    "layer_member",
    "rasterio_env",
    "write_cog",
]

#: Layers of the 2018 unwrapped products: (member under ``<product>/merged/``, band).
LAYERS = {
    "amplitude": ("filt_topophase.unw.geo.vrt", 1),
    "unwrapped_phase": ("filt_topophase.unw.geo.vrt", 2),
    "coherence": ("phsig.cor.geo.vrt", 1),
}
#: Where the 2018 page's products were (``s3://grfn-content-prod/<zip>``).
GRFN_BUCKET = "grfn-content-prod"
#: The GRFN BETA zips' suffixes after the product (directory) name, longest first.
ZIP_SUFFIXES = (".unw_geo.zip", ".full_res.zip", ".zip")


def layer_member(zip_name: str, layer: str) -> tuple[str, int]:
    """(path inside the zip, band) of a layer: ``<product>/merged/filt_topophase.unw.geo.vrt``, 2.

    :param zip_name: the product zip's file name.
    :param layer: one of :data:`LAYERS`.
    """
    if layer not in LAYERS:
        raise InvalidInputError(f"layer {layer!r} is not one of {sorted(LAYERS)}")
    suffix = next((s for s in ZIP_SUFFIXES if zip_name.endswith(s)), None)
    if suffix is None:
        raise InvalidInputError(
            f"{zip_name!r} is not a GRFN product zip (ends with none of {ZIP_SUFFIXES}); "
            f"layers are read from the 2018 GRFN BETA products"
        )
    member, band = LAYERS[layer]
    return f"{zip_name.removesuffix(suffix)}/merged/{member}", band


@dataclass(frozen=True)
class CogResult:
    """What was written.

    :param path: the local COG.
    :param width: columns.
    :param height: rows.
    :param crs: the coordinate system (``EPSG:4326``).
    :param transform: the GDAL geotransform.
    :param description: the band's description in the source.
    :param size: bytes of the COG.
    """

    path: str
    width: int
    height: int
    crs: str
    transform: tuple[float, ...]
    description: str | None
    size: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {**asdict(self), "transform": list(self.transform)}


#: GDAL options rasterio takes only through its AWSSession (it refuses them in ``rasterio.Env``).
_SESSION_OPTIONS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_S3_ENDPOINT")


def rasterio_env(gdal_options: dict[str, str], session: Any = None) -> Any:
    """A ``rasterio.Env`` with GDAL's options; the keys go through rasterio's ``AWSSession``.

    :param gdal_options: GDAL configuration options (with or without the ``AWS_*`` keys).
    :param session: a boto3 session whose credentials refresh themselves (e.g. ``AsfHook.get_boto3_session()``);
        rasterio asks it for current keys each time a dataset is opened. Default: the keys in ``gdal_options``.
    """
    import rasterio
    from rasterio.session import AWSSession

    endpoint = gdal_options.get("AWS_S3_ENDPOINT")
    if session is not None:
        aws = AWSSession(session=session, endpoint_url=endpoint)
    else:
        aws = AWSSession(
            aws_access_key_id=gdal_options.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=gdal_options.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=gdal_options.get("AWS_SESSION_TOKEN"),
            region_name=gdal_options.get("AWS_REGION"),
            endpoint_url=endpoint,
        )
    return rasterio.Env(session=aws, **{k: v for k, v in gdal_options.items() if k not in _SESSION_OPTIONS})


def write_cog(source: str, band: int, out: Path, gdal_options: dict[str, str], session: Any = None) -> CogResult:
    """Read one band of a raster GDAL can open (e.g. a ``/vsizip//vsis3/`` path) and write it as a COG.

    The band is held in memory once (a layer of these products is tens of MB at most); the COG is
    DEFLATE-compressed with a floating-point predictor, tiled, with overviews.

    :param source: the GDAL path.
    :param band: the band (1-based).
    :param out: the COG file to write.
    :param gdal_options: GDAL configuration options (endpoint; keys when no ``session``) for reading ``source``.
    :param session: a boto3 session with refreshing credentials (see :func:`rasterio_env`).
    """
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    with rasterio_env(gdal_options, session), rasterio.open(source) as dataset:
        if not 1 <= band <= dataset.count:
            raise ValueError(f"band {band} is not in {source}, which has {dataset.count}")
        data = dataset.read(band)
        profile = {
            "driver": "GTiff",
            "width": dataset.width,
            "height": dataset.height,
            "count": 1,
            "dtype": dataset.dtypes[band - 1],
            "crs": dataset.crs,
            "transform": dataset.transform,
            "nodata": dataset.nodatavals[band - 1],
        }
        description = dataset.descriptions[band - 1]
    # The COG driver only copies (GDAL CreateCopy): build the one-band dataset in memory, then copy it.
    with MemoryFile() as memory:
        with memory.open(**profile) as single:
            single.write(data, 1)
            if description:
                single.set_band_description(1, description)
        with memory.open() as single:
            rasterio.shutil.copy(single, str(out), driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES", OVERVIEWS="AUTO")
    return CogResult(
        str(out),
        profile["width"],
        profile["height"],
        str(profile["crs"]),
        tuple(profile["transform"].to_gdal()),
        description,
        out.stat().st_size,
    )
