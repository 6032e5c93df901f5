"""permit_pulls: each portal city's day fetched into the landing folder, upstream of raw_permits.

File-drop cities have nothing to pull: their partitions materialize as a no-op (metadata says
"file drop"), so one run can pull and load a block of cities of both kinds.
"""

import dagster as dg
from pydantic import Field

from lead_assets.defs.catalog import catalog
from lead_assets.defs.metadata import partition_label
from lead_assets.defs.partitions import partition_key, to_city_days
from lead_assets.defs.resources import LeadsResource
from lead_assets.sources.portals.pull import pull


class PullConfig(dg.Config):
    """Run config (launchpad, schedule, `leads score --refetch`)."""
    refetch: bool = Field(default=False, description=(
        "true: fetch portal days again that were already fetched completely (file-drop cities ignore it)."))


def _metadata(p) -> dict:
    m = p.manifest
    out = {"source": p.status if p.status == "file drop" else m.get("source", ""), "status": p.status}
    if m:
        out.update({"url": dg.MetadataValue.url(m["url"]), "pages": m["pages"], "rows": m["rows"],
                    "retries": m.get("retries", 0), "fetched_at": m["fetched_at"],
                    "fetch_seconds": float(m.get("seconds", 0.0))})
    return out


def permit_pulls_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="permit_pulls", group_name="sources", kinds={"api"}, partitions_def=partitions_def,
        **catalog("sources", pii=True, cadence="daily"),
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Each portal city's day (Socrata / ArcGIS) fetched into the landing folder, page by "
                    "page; a day lands whole or not at all and is not fetched again unless refetch.",
    )
    def permit_pulls(context: dg.AssetExecutionContext, config: PullConfig, leads: LeadsResource):
        settings = leads.settings()
        results = pull(settings, to_city_days(settings, context.partition_keys), refetch=config.refetch)
        failed = [p for p in results if p.status == "failed"]
        if not failed:
            # One result for the run (so raw_permits runs next); the per-partition figures are in it.
            fetched = [p for p in results if p.status == "fetched"]
            single = _metadata(results[0]) if len(results) == 1 else {}   # one partition: its own figures
            yield dg.MaterializeResult(metadata={
                "partitions": partition_label(context.partition_keys),
                "fetched": len(fetched),
                "already_fetched": sum(p.status == "already fetched" for p in results),
                "file_drop": sum(p.status == "file drop" for p in results),
                "pages": sum(p.manifest.get("pages", 0) for p in fetched),
                "rows": sum(p.manifest.get("rows", 0) for p in fetched),
                "last_fetched_at": max((p.manifest["fetched_at"] for p in results if p.manifest), default=""),
                "pulls": dg.MetadataValue.json([{"partition": f"{p.city}|{p.day}", **{
                    k: v.value if isinstance(v, dg.MetadataValue) else v for k, v in _metadata(p).items()}}
                    for p in results if p.status != "file drop"]),
                **single,
            })
            return
        # The days that landed are recorded; the failed ones stay unmaterialized and the run fails,
        # so raw_permits never loads a partial day. A rerun fetches only what is missing. A
        # group's partition is recorded only when every city of it landed.
        by_key: dict[str, list] = {}
        for p in results:
            by_key.setdefault(partition_key(settings, p.city, p.day), []).append(p)
        for key, pulls in by_key.items():
            if any(p.status == "failed" for p in pulls):
                continue
            metadata = _metadata(pulls[0]) if len(pulls) == 1 else {
                "cities": len(pulls), "pulls": dg.MetadataValue.json([{"city": p.city, **{
                    k: v.value if isinstance(v, dg.MetadataValue) else v for k, v in _metadata(p).items()}}
                    for p in pulls])}
            yield dg.AssetMaterialization(asset_key=context.asset_key, metadata=metadata, partition=key)
        for p in failed:
            context.log.error(p.error)
        raise dg.Failure(description=f"{len(failed)} of {len(results)} partition(s) not pulled: "
                                     + "; ".join(p.error for p in failed))

    return permit_pulls
