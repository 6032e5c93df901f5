"""Partitions: permits are city x day; exports are one partition per buyer file."""

from datetime import date

import dagster as dg

from lead_assets.settings import Settings
from lead_assets.taxonomy import export_keys


def city_day_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    """Cities come from leads.toml, so a new city entry is a new row of partitions."""
    return dg.MultiPartitionsDefinition({
        "city": dg.StaticPartitionsDefinition(list(settings.cities)),
        "date": dg.DailyPartitionsDefinition(
            start_date=settings.start_date.isoformat(), timezone=settings.timezone),
    })


export_partitions = dg.StaticPartitionsDefinition(export_keys())


def partition_key(city: str, day: date | str) -> str:
    return dg.MultiPartitionKey({"city": city, "date": str(day)})


def to_city_days(keys) -> list[tuple[str, date]]:
    out = []
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else \
            dict(zip(("city", "date"), str(key).split("|")))
        out.append((dims["city"], date.fromisoformat(dims["date"])))
    return out
