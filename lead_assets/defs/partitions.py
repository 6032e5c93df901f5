"""Partitions: permits are city x day (or city group x day); exports are one partition per buyer file.

`[partitions] scheme` (lead_assets/config/partition_scheme.py) picks the first dimension: the cities
themselves (city_day) or groups of them (group_day). Either way the assets work on (city, day)
pairs; `to_city_days` expands a group's key into every city of the group.
"""

from datetime import date

import dagster as dg

from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import export_keys


def city_day_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    """Rows come from leads.toml, so a new city entry is a new row of partitions (or joins a group)."""
    scheme = settings.partition_scheme
    return dg.MultiPartitionsDefinition({
        scheme.dimension: dg.StaticPartitionsDefinition(scheme.rows()),
        "date": dg.DailyPartitionsDefinition(
            start_date=settings.start_date.isoformat(), timezone=settings.timezone),
    })


export_partitions = dg.StaticPartitionsDefinition(export_keys())


def partition_key(settings: Settings, city: str, day: date | str) -> dg.MultiPartitionKey:
    """The key of the partition holding this city's day."""
    scheme = settings.partition_scheme
    return dg.MultiPartitionKey({scheme.dimension: scheme.row(city), "date": str(day)})


def to_city_days(settings: Settings, keys) -> list[tuple[str, date]]:
    """The (city, day) pairs of these partition keys: a group's key gives every city of the group."""
    scheme = settings.partition_scheme
    out = []
    for key in keys:
        row, day = (key.keys_by_dimension[scheme.dimension], key.keys_by_dimension["date"]) \
            if isinstance(key, dg.MultiPartitionKey) else str(key).split("|")
        out.extend((city, date.fromisoformat(day)) for city in scheme.cities_of(row))
    return out
