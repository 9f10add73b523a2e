"""What the transfers share: argument checks, outlets with the asset alias, granule parsing, asset events."""

from __future__ import annotations

import re

import pytest
from airflow.sdk import Asset, AssetAlias

from airflow_asf_ifg.client.granule import Granule, ProductFile
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.transfers.base import (
    GranuleTransferOperator,
    WrittenObject,
    check_dest_prefix,
    check_granule_arguments,
    object_key,
    outlets_with_alias,
)

GRANULE = {"granule_ur": "G-UR", "concept_id": "G1-ASF", "short_name": "ARIA_S1_GUNW"}


class AliasEvents:
    """What ``context["outlet_events"][alias]`` records: (asset, extra) per ``add``."""

    def __init__(self) -> None:
        self.added: list[tuple[Asset, dict]] = []

    def add(self, asset: Asset, extra: dict) -> None:
        self.added.append((asset, extra))


class OutletEvents(dict):
    """``context["outlet_events"]``: an ``AliasEvents`` per alias, made when first asked for. Keyed by the alias's
    name, as Airflow's accessors are: Airflow 3.1's ``AssetAlias`` is not hashable."""

    def __getitem__(self, alias: AssetAlias) -> AliasEvents:
        return self.setdefault(alias.name, AliasEvents())


def operator(**kwargs) -> GranuleTransferOperator:
    return GranuleTransferOperator(task_id="transfer", dest_bucket="dest", **({"asset_alias": "products"} | kwargs))


class TestArguments:
    def test_neither_granule_nor_granules(self):
        with pytest.raises(ValueError, match=r"give granule= \(one granule dict\) or granules="):
            check_granule_arguments(None, None)
        check_granule_arguments(None, [])  # an empty list is a choice: nothing to copy

    @pytest.mark.parametrize(
        ("outlets", "alias", "names"),
        [
            (None, "products", ["products"]),
            ([AssetAlias("products")], "products", ["products"]),
            ([Asset("s3://b/k")], "products", ["s3://b/k", "products"]),
            ([Asset("s3://b/k")], "", ["s3://b/k"]),
        ],
        ids=["added", "not-twice", "kept-first", "no-alias"],
    )
    def test_outlets_with_alias(self, outlets, alias, names):
        chosen = outlets_with_alias(outlets, alias)
        assert [getattr(o, "name", None) or o.uri for o in chosen] == names


class TestGranuleTransferOperator:
    def test_outlets_hold_the_alias(self):
        assert any(isinstance(o, AssetAlias) and o.name == "products" for o in operator(granule=GRANULE).outlets)

    @pytest.mark.parametrize(
        "given", [{"granule": GRANULE}, {"granules": [GRANULE, GRANULE]}], ids=["granule", "granules"]
    )
    def test_granule_list(self, given):
        granules = operator(**given).granule_list()
        assert granules and all(g == Granule.from_dict(GRANULE) for g in granules)

    def test_a_dict_that_is_no_granule_is_refused(self):
        with pytest.raises(InvalidInputError, match=r"not a granule dict \(as CmrSearchOperator returns\)"):
            operator(granule={"name": "x"}).granule_list()

    def test_record_written_sends_one_asset_event(self):
        task = operator(granule=GRANULE)
        events = OutletEvents()
        granule = Granule.from_dict(GRANULE)
        task.record_written({"outlet_events": events}, granule, "s3://asf/x.nc", "dest", "p/x.nc", size=3)
        [(asset, extra)] = events[AssetAlias("products")].added
        assert asset == Asset("s3://dest/p/x.nc")
        assert extra == {"concept_id": "G1-ASF", "granule_ur": "G-UR", "source": "s3://asf/x.nc", "size": 3}
        assert task._written == [WrittenObject("s3://asf/x.nc", "dest", "p/x.nc")]

    def test_no_alias_no_event(self):
        task = operator(granule=GRANULE, asset_alias="")
        events = OutletEvents()
        task.record_written({"outlet_events": events}, Granule.from_dict(GRANULE), "s3://asf/x.nc", "dest", "x.nc")
        assert not events and len(task._written) == 1  # lineage still knows it


class TestDestination:
    def test_a_product_name_that_climbs_out_of_the_prefix_is_refused(self):
        product = ProductFile(name="../../x.zip", url="https://host/x/..%2F..%2Fx.zip", role="data")
        with pytest.raises(InvalidInputError, match="refused"):
            object_key("ARIA/G-UR/", product)
        assert object_key("ARIA/G-UR/", ProductFile(name="x.zip", url="https://host/x.zip", role="data")) == (
            "ARIA/G-UR/x.zip"
        )

    @pytest.mark.parametrize(
        ("template", "message"),
        [
            ("../../", "has a '.' or '..' segment"),
            ("/{granule_ur}/", "starts with '/'"),
            ("{year}/", "uses 'year'"),
            ("{granule_ur", "is not a valid template"),
        ],
        ids=["dotdot", "absolute", "placeholder", "brace"],
    )
    def test_bad_prefix_templates_are_input_errors(self, template, message):
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            check_dest_prefix(template)
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            operator(granule=GRANULE, dest_prefix=template)

    def test_templated_destinations_wait_for_rendering_then_are_checked(self):
        task = GranuleTransferOperator(
            task_id="transfer",
            asset_alias="",
            granule=GRANULE,
            dest_bucket="{{ params.b }}",
            dest_prefix="{{ params.p }}",
        )
        task.dest_bucket, task.dest_prefix = "", "x/"  # as rendered
        with pytest.raises(InvalidInputError, match="dest_bucket '' is empty"):
            task.check_destination()
        task.dest_bucket, task.dest_prefix = "good-bucket", "../"
        with pytest.raises(InvalidInputError, match="dest_prefix"):
            task.check_destination()
