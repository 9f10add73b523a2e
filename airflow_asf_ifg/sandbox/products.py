"""Deterministic product files for the sandbox: GRFN BETA zips, GUNW NetCDF, browse PNGs, JSON metadata.

Every file is real in its format (a zip with members, a NetCDF classic file, a PNG) so that tools which
open products (unzip, GDAL) work on them; the bytes follow from the granule's seed alone, so the MD5
published in CMR always matches what is served.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import random
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

# Raster values are repeated from a small set of rows so that large products are cheap to make.
_DISTINCT_ROWS = 16
#: Pixel spacing of the geocoded GRFN/ARIA interferograms: 3 arc-seconds (about 90 m). Smaller products
#: use a whole multiple of it, as a multilooked product would.
PIXEL_SIZE_DEG = 1 / 1200


@dataclass(frozen=True)
class RasterGrid:
    """A north-up EPSG:4326 grid over a footprint's bounding box.

    :param west: western edge (degrees).
    :param north: northern edge (degrees).
    :param pixel_size: pixel size in degrees (square pixels).
    :param width: columns.
    :param height: rows.
    """

    west: float
    north: float
    pixel_size: float
    width: int
    height: int

    @classmethod
    def fitting(cls, bounds: tuple[float, float, float, float], pixel_count: int) -> RasterGrid:
        """A grid over ``bounds`` with at most about ``pixel_count`` pixels of a whole multiple of 3 arc-seconds.

        :param bounds: (west, south, east, north).
        :param pixel_count: wanted number of pixels.
        """
        west, south, east, north = bounds
        span_x, span_y = max(east - west, 1e-6), max(north - south, 1e-6)
        wanted = math.sqrt(span_x * span_y / max(pixel_count, 1))
        pixel_size = max(1, math.ceil(wanted / PIXEL_SIZE_DEG - 1e-9)) * PIXEL_SIZE_DEG
        width = max(1, round(span_x / pixel_size))
        height = max(1, round(span_y / pixel_size))
        return cls(west=west, north=north, pixel_size=pixel_size, width=width, height=height)


def _float_rows(rng: random.Random, width: int, kind: str) -> list[bytes]:
    rows = []
    for index in range(_DISTINCT_ROWS):
        phase = rng.uniform(0, 2 * math.pi)
        if kind == "amplitude":
            values = (abs(math.sin(phase + x / 37.0)) * 1000.0 + 50.0 for x in range(width))
        elif kind == "coherence":
            values = (0.5 + 0.45 * math.sin(phase + x / 23.0 + index) for x in range(width))
        else:  # unwrapped phase, radians
            values = (6.0 * math.sin(phase + x / 51.0) + index * 0.1 for x in range(width))
        rows.append(array.array("f", values).tobytes())
    return rows


def _band_bytes(rows: list[bytes], height: int, out: IO[bytes]) -> None:
    for row in range(height):
        out.write(rows[row % len(rows)])


def _vrt(grid: RasterGrid, raw_name: str, band_names: list[str]) -> str:
    line = 4 * grid.width
    band_size = line * grid.height
    bands = "".join(
        f'  <VRTRasterBand dataType="Float32" band="{i + 1}" subClass="VRTRawRasterBand">\n'
        f"    <Description>{name}</Description>\n"
        f"    <NoDataValue>0</NoDataValue>\n"
        f'    <SourceFilename relativetoVRT="1">{raw_name}</SourceFilename>\n'
        f"    <ImageOffset>{i * band_size}</ImageOffset>\n"
        f"    <PixelOffset>4</PixelOffset>\n"
        f"    <LineOffset>{line}</LineOffset>\n"
        f"    <ByteOrder>LSB</ByteOrder>\n"
        f"  </VRTRasterBand>\n"
        for i, name in enumerate(band_names)
    )
    wkt = (
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
        'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
    )
    transform = f"{grid.west!r}, {grid.pixel_size!r}, 0.0, {grid.north!r}, 0.0, {-grid.pixel_size!r}"
    return (
        f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">\n'
        f"  <SRS>{wkt}</SRS>\n"
        f"  <GeoTransform>{transform}</GeoTransform>\n"
        f"{bands}</VRTDataset>\n"
    )


def write_beta_zip(
    out: IO[bytes],
    product_name: str,
    bounds: tuple[float, float, float, float],
    size_bytes: int,
    seed: int,
    produced: tuple[int, int, int, int, int, int] = (2018, 1, 1, 0, 0, 0),
) -> None:
    """Write a GRFN BETA product zip: ISCE ``merged/`` rasters with VRTs, as the 2018 products held.

    Members are stored uncompressed so GDAL's ``/vsizip/`` can seek in them.

    :param out: binary file to write the zip to.
    :param product_name: the product (directory) name inside the zip.
    :param bounds: footprint (west, south, east, north) that the rasters cover.
    :param size_bytes: approximate size of the zip.
    :param seed: seed of the raster values.
    :param produced: the members' modification time; fixed so that the same seed gives the same bytes.
    """
    rng = random.Random(seed)
    grid = RasterGrid.fitting(bounds, max(1, size_bytes // 12))  # 3 Float32 bands
    base = f"{product_name}/merged/"

    def member(name: str) -> zipfile.ZipInfo:
        return zipfile.ZipInfo(name, date_time=produced)  # not "now", which zipfile uses by default

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open(member(base + "filt_topophase.unw.geo"), "w", force_zip64=True) as raw:
            _band_bytes(_float_rows(rng, grid.width, "amplitude"), grid.height, raw)
            _band_bytes(_float_rows(rng, grid.width, "phase"), grid.height, raw)
        archive.writestr(
            member(base + "filt_topophase.unw.geo.vrt"),
            _vrt(grid, "filt_topophase.unw.geo", ["amplitude", "unwrapped_phase"]),
        )
        with archive.open(member(base + "phsig.cor.geo"), "w", force_zip64=True) as raw:
            _band_bytes(_float_rows(rng, grid.width, "coherence"), grid.height, raw)
        archive.writestr(member(base + "phsig.cor.geo.vrt"), _vrt(grid, "phsig.cor.geo", ["coherence"]))
        archive.writestr(
            member(f"{product_name}/metadata.json"),
            json.dumps(
                {
                    "product_name": product_name,
                    "bounds": bounds,
                    "width": grid.width,
                    "height": grid.height,
                    "pixel_size_deg": grid.pixel_size,
                },
                indent=2,
            ),
        )


def write_gunw_netcdf(
    out: IO[bytes], product_name: str, bounds: tuple[float, float, float, float], size_bytes: int, seed: int
) -> None:
    """Write a NetCDF classic (CDF-1) file with unwrapped phase and coherence over lat/lon.

    Real GUNW products are NetCDF-4 (HDF5); the classic format keeps the sandbox free of HDF5 while
    staying a file that NetCDF readers and GDAL open.

    :param out: binary file to write to.
    :param product_name: written as the ``title`` global attribute.
    :param bounds: footprint (west, south, east, north).
    :param size_bytes: approximate file size.
    :param seed: seed of the raster values.
    """
    rng = random.Random(seed)
    grid = RasterGrid.fitting(bounds, max(1, size_bytes // 8))  # 2 Float32 variables
    lats = array.array("f", (grid.north - (row + 0.5) * grid.pixel_size for row in range(grid.height)))
    lons = array.array("f", (grid.west + (col + 0.5) * grid.pixel_size for col in range(grid.width)))
    for values in (lats, lons):
        values.byteswap()  # NetCDF is big-endian
    planes = {}
    for name, kind in (("unwrappedPhase", "phase"), ("coherence", "coherence")):
        rows = []
        for row in _float_rows(rng, grid.width, kind):
            swapped = array.array("f")
            swapped.frombytes(row)
            swapped.byteswap()
            rows.append(swapped.tobytes())
        planes[name] = rows

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack(">i", len(raw)) + raw + b"\0" * (-len(raw) % 4)

    def attributes(items: dict[str, str]) -> bytes:
        if not items:
            return b"\0" * 8
        body = b"".join(text(k) + struct.pack(">i", 2) + text(v) for k, v in items.items())
        return struct.pack(">ii", 12, len(items)) + body

    variables = [
        ("latitude", [0], {"units": "degrees_north", "standard_name": "latitude"}, lats.tobytes()),
        ("longitude", [1], {"units": "degrees_east", "standard_name": "longitude"}, lons.tobytes()),
        ("unwrappedPhase", [0, 1], {"units": "radians", "grid_mapping": "crs"}, None),
        ("coherence", [0, 1], {"units": "unitless", "grid_mapping": "crs"}, None),
    ]
    sizes = [len(v[3]) if v[3] is not None else 4 * grid.width * grid.height for v in variables]
    dims = struct.pack(">ii", 10, 2) + text("latitude") + struct.pack(">i", grid.height)
    dims += text("longitude") + struct.pack(">i", grid.width)
    global_attrs = attributes(
        {"title": product_name, "Conventions": "CF-1.6", "source": "airflow-asf-ifg sandbox (synthetic)"}
    )

    def header(offsets: list[int]) -> bytes:
        var_list = b"".join(
            text(name)
            + struct.pack(">i", len(dim_ids))
            + b"".join(struct.pack(">i", d) for d in dim_ids)
            + attributes(attrs)
            + struct.pack(">iii", 5, size, offset)
            for (name, dim_ids, attrs, _), size, offset in zip(variables, sizes, offsets, strict=True)
        )
        variable_header = struct.pack(">ii", 11, len(variables)) + var_list
        return b"CDF\x01" + struct.pack(">i", 0) + dims + global_attrs + variable_header

    start = len(header([0] * len(variables)))
    offsets = []
    for size in sizes:
        offsets.append(start)
        start += size
    out.write(header(offsets))
    for name, _, _, data in variables:
        if data is not None:
            out.write(data)
        else:
            _band_bytes(planes[name], grid.height, out)


def write_png(out: IO[bytes], seed: int, size: int = 64) -> None:
    """Write a small greyscale PNG browse image.

    :param out: binary file to write to.
    :param seed: seed of the pattern.
    :param size: width and height in pixels.
    """
    rng = random.Random(seed)
    phase = rng.uniform(0, 6.28)
    raw = b"".join(
        b"\0" + bytes(int(127 + 120 * math.sin(phase + (x + y) / 7.0)) for x in range(size)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)))
    out.write(chunk(b"IDAT", zlib.compress(raw)))
    out.write(chunk(b"IEND", b""))


@dataclass(frozen=True)
class BuiltFile:
    """A product file made on disk, with the facts CMR publishes about it.

    :param path: temporary file holding the bytes.
    :param size: size in bytes.
    :param md5: hex MD5 of the bytes.
    """

    path: str
    size: int
    md5: str


def build_file(writer, *args: object) -> BuiltFile:
    """Run a ``write_*`` function into a temporary file and measure it.

    :param writer: one of the ``write_*`` functions of this module.
    :param args: its arguments after the output file.
    """
    handle = tempfile.NamedTemporaryFile(prefix="asf-sandbox-", delete=False)  # noqa: SIM115
    with handle:
        writer(handle, *args)
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(handle.name, "rb") as built:
        for block in iter(lambda: built.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return BuiltFile(path=handle.name, size=size, md5=digest.hexdigest())


def json_bytes(document: dict) -> bytes:
    """Pretty JSON as ASF's metadata files are written.

    :param document: the JSON document.
    """
    return json.dumps(document, indent=2).encode()


__all__ = ["BuiltFile", "RasterGrid", "build_file", "json_bytes", "write_beta_zip", "write_gunw_netcdf", "write_png"]
