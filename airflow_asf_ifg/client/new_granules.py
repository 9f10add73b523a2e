"""Watching a CMR collection for new and revised granules: a watermark that never drops nor repeats one.

CMR gives each record a revision date when it is ingested, but a search sees it only once it is indexed,
a little later (seconds to minutes; more when CMR is busy). A watch that asked only for granules revised
after its previous poll would miss one indexed after that poll with an earlier revision date. So each
poll asks for everything revised after the previous poll's time minus ``margin``, and drops the
(concept id, revision id) pairs it has already emitted; pairs older than that window are forgotten, as no
later poll can return them again. A granule reprocessed gets a new revision id, and is emitted again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_asf_ifg.client.granule import Granule

__all__ = ["DEFAULT_MARGIN", "Poll", "Watermark", "fresh", "merged"]

#: Seconds the watermark trails the previous poll: how late CMR may index a record after its revision date.
DEFAULT_MARGIN = 900.0


@dataclass(frozen=True)
class Poll:
    """One search for granules revised in a window: what a poll found, and the window it covered.

    :param since: epoch seconds the search's revision-date window started from.
    :param polled_at: epoch seconds the search started (the window's end, for the next poll).
    :param granules: the granules found.
    """

    since: float
    polled_at: float
    granules: tuple[Granule, ...]


@dataclass
class Watermark:
    """How far a watch has come.

    :param since: epoch seconds of the previous poll (granules revised before ``since - margin`` were emitted).
    :param emitted: concept id → [revision id, revision epoch seconds] of the granules emitted that were
        revised within the window, so the next poll does not emit them again.
    """

    since: float
    emitted: dict[str, list[float]] = field(default_factory=dict)

    def leaves_gap(self, poll: Poll, margin: float) -> bool:
        """Whether a poll's window starts after this watermark's: granules revised in between were not searched.

        :param poll: a poll made by someone else (a shared poll).
        :param margin: seconds of indexing lag allowed for.
        """
        return poll.since > self.since - margin

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the asset state store."""
        return {"since": self.since, "emitted": self.emitted}

    @classmethod
    def from_dict(cls, document: Any) -> Watermark | None:
        """A watermark read back from the state store; None for anything else (a fresh start).

        :param document: what was stored.
        """
        if not isinstance(document, dict) or not isinstance(document.get("since"), int | float):
            return None
        emitted = document.get("emitted")
        pairs = emitted if isinstance(emitted, dict) else {}
        return cls(float(document["since"]), {str(k): list(v) for k, v in pairs.items() if isinstance(v, list)})

    def advance(self, emitted: Iterable[Granule], polled_at: float, margin: float) -> Watermark:
        """The watermark after a poll that started at ``polled_at`` and emitted ``emitted``.

        :param emitted: the granules the poll emitted.
        :param polled_at: when the poll's search started (epoch seconds).
        :param margin: seconds of indexing lag allowed for.
        """
        kept = dict(self.emitted)
        for granule in emitted:
            revised = granule.revision_date.timestamp() if granule.revision_date else polled_at
            kept[str(granule.concept_id)] = [float(granule.revision_id or 0), revised]
        floor = polled_at - margin
        return Watermark(polled_at, {k: v for k, v in kept.items() if v[1] >= floor})


def merged(*polls: Iterable[Granule]) -> list[Granule]:
    """The granules of several searches, each (concept id, revision id) once, in order of first appearance.

    :param polls: the searches' granules.
    """
    seen: dict[tuple[str, int], Granule] = {}
    for found in polls:
        for granule in found:
            seen.setdefault((str(granule.concept_id), int(granule.revision_id or 0)), granule)
    return list(seen.values())


def fresh(found: Iterable[Granule], mark: Watermark) -> list[Granule]:
    """The granules of a poll not emitted before (a new concept, or a new revision of one).

    :param found: what the poll found.
    :param mark: the watermark before the poll.
    """
    new = []
    for granule in found:
        before = mark.emitted.get(str(granule.concept_id))
        if before is None or int(before[0]) != int(granule.revision_id or 0):
            new.append(granule)
    return new
