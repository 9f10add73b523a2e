"""Product files are real in their formats and follow from their seed."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zipfile

import pytest

from airflow_asf_ifg.sandbox import products

BOUNDS = (-119.4, 33.2, -117.0, 35.1)


def built(writer, *args) -> bytes:
    out = io.BytesIO()
    writer(out, *args)
    return out.getvalue()


class TestBetaZip:
    def test_members_and_vrt_match_the_raw_bands(self):
        data = built(products.write_beta_zip, "S1-IFG_X", BOUNDS, 200_000, 1)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            assert names == [
                "S1-IFG_X/merged/filt_topophase.unw.geo",
                "S1-IFG_X/merged/filt_topophase.unw.geo.vrt",
                "S1-IFG_X/merged/phsig.cor.geo",
                "S1-IFG_X/merged/phsig.cor.geo.vrt",
                "S1-IFG_X/metadata.json",
            ]
            assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())  # seekable by GDAL
            # A fixed member time, not the time of the run: the same seed must give the same MD5 tomorrow.
            assert {i.date_time for i in archive.infolist()} == {(2018, 1, 1, 0, 0, 0)}
            vrt = ET.fromstring(archive.read("S1-IFG_X/merged/filt_topophase.unw.geo.vrt"))
            width, height = int(vrt.get("rasterXSize")), int(vrt.get("rasterYSize"))
            bands = vrt.findall("VRTRasterBand")
            assert [b.find("Description").text for b in bands] == ["amplitude", "unwrapped_phase"]
            assert archive.getinfo("S1-IFG_X/merged/filt_topophase.unw.geo").file_size == 2 * 4 * width * height
            origin_x, pixel, _, origin_y, _, negative = map(float, vrt.find("GeoTransform").text.split(","))
            assert (origin_x, origin_y) == (BOUNDS[0], BOUNDS[3]) and negative == -pixel
            assert origin_x + width * pixel == pytest.approx(BOUNDS[2], abs=pixel)
            assert 'AUTHORITY["EPSG","4326"]' in vrt.find("SRS").text
        assert 150_000 < len(data) < 260_000

    def test_same_seed_same_bytes(self):
        assert built(products.write_beta_zip, "P", BOUNDS, 50_000, 3) == built(
            products.write_beta_zip, "P", BOUNDS, 50_000, 3
        )
        assert built(products.write_beta_zip, "P", BOUNDS, 50_000, 3) != built(
            products.write_beta_zip, "P", BOUNDS, 50_000, 4
        )


class TestNetcdf:
    def test_classic_header_declares_dimensions_and_variables(self):
        data = built(products.write_gunw_netcdf, "S1-GUNW-X", BOUNDS, 100_000, 1)
        assert data[:4] == b"CDF\x01"
        numrecs, dim_tag, dim_count = struct.unpack(">iii", data[4:16])
        assert (numrecs, dim_tag, dim_count) == (0, 10, 2)
        for name in (b"latitude", b"longitude", b"unwrappedPhase", b"coherence", b"S1-GUNW-X"):
            assert name in data[:2000]
        assert 80_000 < len(data) < 120_000


class TestPng:
    def test_is_a_png(self):
        data = built(products.write_png, 1)
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def test_build_file_measures_size_and_md5(tmp_path):
    import hashlib
    import os

    result = products.build_file(products.write_png, 9)
    try:
        with open(result.path, "rb") as handle:
            content = handle.read()
        assert result.size == len(content)
        assert result.md5 == hashlib.md5(content, usedforsecurity=False).hexdigest()
    finally:
        os.unlink(result.path)
