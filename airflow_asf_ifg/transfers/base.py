"""What the transfers from granules into the user's bucket share: arguments, granules, asset events, lineage."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_asf_ifg.client.granule import Granule, ProductFile, check_key_prefix, safe_file_name
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.links import AsfSearchLink, CmrRecordsLink
from airflow_asf_ifg.templates import is_templated
from airflow_asf_ifg.validation import check_bucket_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.upload_ledger import UploadOwner
    from airflow_asf_ifg.hooks.asf import AsfHook

DEFAULT_PREFIX = "{collection}/{granule_ur}/"


def upload_owner(context: Context) -> UploadOwner | None:
    """The running task instance as the owner of the multipart uploads it starts: a name that every try of it
    shares (so a retry finds what a killed try left) and its try number; None outside a task instance.

    :param context: the task's context.
    """
    from airflow_asf_ifg.client.upload_ledger import UploadOwner  # loads botocore: not at DAG parse time

    ti = context.get("ti")
    if ti is None or getattr(ti, "try_number", None) is None:
        return None
    return UploadOwner(task=f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}", attempt=int(ti.try_number))


def destination_prefix(template: str, granule: Granule) -> str:
    """The key prefix for a granule: ``{collection}``, ``{granule_ur}``, ``{concept_id}`` filled in.

    An InvalidInputError for an unknown placeholder, a prefix starting with ``/`` or one with a ``..`` segment
    (a granule UR or a template that would climb out of the prefix the DAG chose).

    :param template: e.g. ``{collection}/{granule_ur}/``.
    :param granule: the granule.
    """
    values = {
        "collection": granule.short_name or granule.collection_concept_id or "unknown-collection",
        "collection_concept_id": granule.collection_concept_id or "unknown-collection",
        "granule_ur": granule.granule_ur,
        "concept_id": granule.concept_id or granule.granule_ur,
    }
    return check_key_prefix(_filled(template, values))


def _filled(template: Any, values: dict[str, str]) -> str:
    if not isinstance(template, str):
        raise InvalidInputError(f"dest_prefix {template!r} is not text; give e.g. {DEFAULT_PREFIX!r}")
    try:
        return template.format(**values)
    except (KeyError, IndexError, AttributeError) as error:
        raise InvalidInputError(
            f"dest_prefix {template!r} uses {error}; accepted placeholders: {sorted(values)}"
        ) from None
    except ValueError as error:  # a lone '{' or '}', a format spec: str.format's own words
        raise InvalidInputError(
            f"dest_prefix {template!r} is not a valid template ({error}); accepted placeholders: {sorted(values)}"
        ) from None


def check_dest_prefix(template: Any) -> str:
    """``template`` if its placeholders are known and it cannot climb out of the bucket's root, else an
    InvalidInputError; checked on the template itself, before any granule is known.

    :param template: the ``dest_prefix`` argument.
    """
    sample = {name: name for name in ("collection", "collection_concept_id", "granule_ur", "concept_id")}
    check_key_prefix(_filled(template, sample))
    return str(template)


def object_key(prefix: str, product: ProductFile) -> str:
    """The destination key of a product under ``prefix``; its name (from its URL) must be a plain file name.

    :param prefix: the checked key prefix.
    :param product: the product file.
    """
    return f"{prefix}{safe_file_name(product.name, product.url or product.name)}"


def check_granule_arguments(granule: Any, granules: Any) -> None:
    """Refuse a transfer given neither ``granule`` nor ``granules`` (``.expand()`` fills one in at run time).

    :param granule: the ``granule`` argument.
    :param granules: the ``granules`` argument.
    """
    if granule is None and granules is None:
        raise InvalidInputError("give granule= (one granule dict) or granules= (a list of them)")


def outlets_with_alias(outlets: Any, asset_alias: str) -> list[Any]:
    """The outlets the DAG gave, plus the AssetAlias that receives the asset events (unless already there).

    :param outlets: the outlets the DAG gave.
    :param asset_alias: the alias's name ('' for none).
    """
    chosen = list(outlets or [])
    if asset_alias and not any(isinstance(o, AssetAlias) and o.name == asset_alias for o in chosen):
        chosen.append(AssetAlias(asset_alias))
    return chosen


@dataclass(frozen=True)
class WrittenObject:
    """One object a run wrote, for lineage.

    :param source: the URL it was made from (``s3://`` or ``https://``).
    :param bucket: destination bucket.
    :param key: destination key.
    """

    source: str
    bucket: str
    key: str


#: Names each mapped task instance after its granule in the grid (``S1-GUNW-…`` instead of ``[0]``).
GRANULE_MAP_INDEX_TEMPLATE = "{{ task.granule_label }}"


def granule_label(granule: Any, granules: Any) -> str:
    """A granule's name (its GranuleUR), or the first of several with how many more; '' when unknown.

    :param granule: the rendered ``granule`` argument.
    :param granules: the rendered ``granules`` argument.
    """
    chosen = [granule] if granule is not None else list(granules or [])
    names = [str(g.get("granule_ur") or g.get("producer_granule_id") or "") for g in chosen if isinstance(g, dict)]
    names = [name for name in names if name]
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more)"


class GranuleTransferOperator(BaseOperator):
    """Base of the operators that write objects made from granules' products into a bucket of yours.

    Mapped over granules, each task instance is named after its granule in the grid (``map_index_template``
    defaults to :data:`GRANULE_MAP_INDEX_TEMPLATE`; give your own to change it).

    :param dest_bucket: the destination bucket (templated).
    :param granule: one granule dict (templated), e.g. ``.expand(granule=search.output)``.
    :param granules: a list of granule dicts (templated), instead of ``granule``.
    :param dest_prefix: key prefix (templated) with ``{collection}``, ``{granule_ur}``, ``{concept_id}``.
    :param aws_conn_id: the destination's ``aws`` connection.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param asset_alias: the AssetAlias that receives an asset event per written object ('' for none).
    """

    template_fields_renderers = {"granule": "json", "granules": "json"}
    operator_extra_links = (AsfSearchLink(), CmrRecordsLink())

    def __init__(
        self,
        *,
        dest_bucket: str,
        asset_alias: str,
        granule: dict[str, Any] | None = None,
        granules: list[dict[str, Any]] | None = None,
        dest_prefix: str = DEFAULT_PREFIX,
        aws_conn_id: str | None = "aws_default",
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        check_granule_arguments(granule, granules)
        if not is_templated(dest_bucket):
            check_bucket_name(dest_bucket)
        if not is_templated(dest_prefix):
            check_dest_prefix(dest_prefix)
        super().__init__(outlets=outlets_with_alias(kwargs.pop("outlets", None), asset_alias), **kwargs)
        self.granule = granule
        self.granules = granules
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.aws_conn_id = aws_conn_id
        self.earthdata_conn_id = earthdata_conn_id
        self.asset_alias = asset_alias
        self._written: list[WrittenObject] = []

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """``BaseOperator.partial``, naming each mapped task instance after its granule unless told otherwise.

        :param kwargs: the arguments every mapped task instance shares.
        """
        # The mapped operator's own template is what Airflow renders, so the default goes in here.
        if kwargs.get("map_index_template") is None:
            kwargs["map_index_template"] = GRANULE_MAP_INDEX_TEMPLATE
        return super().partial(**kwargs)

    @cached_property
    def asf(self) -> AsfHook:
        """Source side: temporary keys, the Earthdata session and GDAL options."""
        from airflow_asf_ifg.hooks.asf import AsfHook  # hooks load boto3: not at DAG parse time

        return AsfHook(self.earthdata_conn_id)

    def check_destination(self) -> None:
        """Refuse a rendered ``dest_bucket`` or ``dest_prefix`` that S3 or the key layout cannot take."""
        self.dest_bucket = check_bucket_name(self.dest_bucket)
        self.dest_prefix = check_dest_prefix(self.dest_prefix)

    @property
    def granule_label(self) -> str:
        """The granule this task copies, as the grid names a mapped task instance."""
        return granule_label(self.granule, self.granules)

    def granule_list(self) -> list[Granule]:
        """The rendered ``granule`` or ``granules`` as granules (an InvalidInputError for other dicts)."""
        return Granule.from_dicts([self.granule] if self.granule is not None else list(self.granules or []))

    def record_written(
        self, context: Context, granule: Granule, source: str, bucket: str, key: str, **extra: Any
    ) -> None:
        """Note a written object for lineage and send its asset event to the alias.

        :param context: the task's context.
        :param granule: the granule it was made from.
        :param source: the URL it was made from.
        :param bucket: destination bucket.
        :param key: destination key.
        :param extra: more for the asset event's extra (size, checksum, layer...).
        """
        self._written.append(WrittenObject(source, bucket, key))
        if self.asset_alias:
            context["outlet_events"][AssetAlias(self.asset_alias)].add(
                Asset(f"s3://{bucket}/{key}"),
                extra={"concept_id": granule.concept_id, "granule_ur": granule.granule_ur, "source": source, **extra},
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the sources read and the objects written by this run."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs, outputs = [], []
        for written in self._written:
            parts = urlsplit(written.source)
            inputs.append(Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/")))
            outputs.append(Dataset(namespace=f"s3://{written.bucket}", name=written.key))
        return OperatorLineage(inputs=inputs, outputs=outputs)
