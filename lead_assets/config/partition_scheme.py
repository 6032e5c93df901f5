"""Which cities share a row of the permit partitions (`[partitions] scheme` in leads.toml).

* ``city_day`` (default): one partition per city x day; a partition key is ``city|day``.
* ``group_day``: one partition per group of cities x day; a key is ``group|day`` and a run of
  it loads and scores every city of the group for that day. Dagster advises at most ~100,000
  partitions per asset: city x day passes that at ~90 cities over three years, 32 groups x day
  stays under it for eight years (docs/scale.md).

A city's group is its ``[cities.<key>] group`` when set, else ``g<crc32(key) mod groups>``
(``[partitions] groups``): a stable hash, so adding a city never moves another one.
Plain Python, no Dagster: runs.py and the CLI map (city, day) pairs to keys with it.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # no "|": it separates the key's dimensions


class SchemeError(ValueError):
    """A bad `[partitions] scheme / groups` or `[cities.<key>] group`."""


@dataclass(frozen=True)
class PartitionScheme:
    kind: str = "city_day"
    cities: tuple[str, ...] = ()                              # every city, leads.toml order
    group_of: dict[str, str] = field(default_factory=dict)    # group_day: city -> group

    @property
    def dimension(self) -> str:
        """The first dimension's name (MultiPartitionsDefinition orders dimensions by name,
        so it must sort before "date" for the key to read group|day)."""
        return "city" if self.kind == "city_day" else "city_group"

    def row(self, city: str) -> str:
        """The partition row a city's days belong to: the city itself, or its group."""
        return city if self.kind == "city_day" else self.group_of[city]

    def rows(self) -> list[str]:
        """Every row, in partition order: cities in leads.toml order, or groups by name."""
        return list(self.cities) if self.kind == "city_day" else sorted(set(self.group_of.values()))

    def cities_of(self, row: str) -> list[str]:
        return [row] if self.kind == "city_day" else list(self._members.get(row, ()))

    @cached_property
    def _members(self) -> dict[str, tuple[str, ...]]:
        """group -> its cities (leads.toml order); a year's range of group keys asks once per key."""
        members: dict[str, list[str]] = {}
        for city in self.cities:
            members.setdefault(self.group_of[city], []).append(city)
        return {group: tuple(cities) for group, cities in members.items()}

    def key(self, city: str, day: date | str) -> str:
        """The partition key (as a string) holding this city's day."""
        return f"{self.row(city)}|{day}"

    @classmethod
    def from_toml(cls, partitions: dict, cities: dict[str, dict]) -> "PartitionScheme":
        """`partitions`: the [partitions] table; `cities`: lowercased key -> [cities.<key>] table."""
        # Types were checked by the schema (lead_assets/config/schema.py); these are the rules of meaning.
        kind = partitions.get("scheme", "city_day")
        groups = partitions.get("groups")
        group_of = {}
        for city, entry in cities.items():
            named = entry.get("group")
            if named is not None and (not isinstance(named, str) or not GROUP_NAME.match(named)):
                raise SchemeError(f"[cities.{city}] group must be lowercase letters, digits, - or _ "
                                  f"(starting with a letter or digit), not {named!r}")
            if named is None and groups is not None:
                named = f"g{zlib.crc32(city.encode()) % groups:0{len(str(groups - 1))}d}"
            if named is None and kind == "group_day":
                raise SchemeError(f'[partitions] scheme = "group_day": [cities.{city}] has no group; '
                                  "set [partitions] groups = N (cities hashed into N groups) or a group per city")
            group_of[city] = named
        # city_day keeps no groups: a `group` there is ignored (a config can switch back and forth)
        return cls(kind=kind, cities=tuple(cities), group_of=group_of if kind == "group_day" else {})
