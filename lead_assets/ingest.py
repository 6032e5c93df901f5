"""Landing files -> `raw_permits` and `quarantine`, one city x day partition at a time."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb

from lead_assets.normalize import normalize
from lead_assets.settings import Settings
from lead_assets.sources import read_city
from lead_assets.warehouse import connect, register_partitions, transaction


@dataclass
class IngestReport:
    source_rows: int = 0
    loaded: dict[tuple[str, date], int] = field(default_factory=dict)       # per partition
    quarantined: dict[tuple[str, date], int] = field(default_factory=dict)  # per partition
    undated_quarantined: dict[str, int] = field(default_factory=dict)       # per city, no day
    reasons: dict[str, int] = field(default_factory=dict)
    file_errors: list[str] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    recoded_files: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values()) + sum(self.undated_quarantined.values())


def ingest(settings: Settings, partitions: list[tuple[str, date]]) -> IngestReport:
    """Load the given (city, day) partitions from the landing folder.

    Each city's files are read once, however many of its days are asked for. Rows of
    other days are left to their own partitions; rows with no usable day belong to the
    city and are re-quarantined on every load of it.
    """
    report = IngestReport()
    days_by_city: dict[str, set[date]] = defaultdict(set)
    for city, day in partitions:
        days_by_city[settings.city(city).key].add(day)
    last_day = settings.today() - timedelta(days=1)
    for city_key, days in days_by_city.items():
        city = settings.city(city_key)
        with duckdb.connect() as scratch:
            batch = read_city(settings.landing_dir, city, scratch)
            norm = normalize(scratch, batch.bad_rows, {city.key: city.date_formats},
                             settings.start_date, max(last_day, max(days)))
        report.files += len(batch.files)
        report.file_errors += batch.file_errors
        report.empty_files += batch.empty_files
        report.recoded_files += batch.recoded_files
        wanted = norm.permits[norm.permits["permit_day"].dt.date.isin(days)] if len(norm.permits) else norm.permits
        q = norm.quarantine
        q_day = q["permit_day"].dt.date if len(q) else q["permit_day"]
        q_wanted = q[q_day.isin(days) | q["permit_day"].isna()] if len(q) else q
        parts = [(city.key, d) for d in sorted(days)]
        with connect(settings.warehouse_path) as con, transaction(con):
            register_partitions(con, parts)
            con.execute("DELETE FROM raw_permits WHERE (city, permit_day) IN (SELECT city, permit_day FROM parts)")
            con.execute("""DELETE FROM quarantine WHERE city = ? AND (permit_day IS NULL OR
                           (city, permit_day) IN (SELECT city, permit_day FROM parts))""", [city.key])
            con.register("new_permits", wanted)
            con.register("new_quarantine", q_wanted)
            con.execute("""INSERT INTO raw_permits BY NAME
                           SELECT *, now()::TIMESTAMP AS loaded_at FROM new_permits""")
            con.execute("""INSERT INTO quarantine BY NAME
                           SELECT *, now()::TIMESTAMP AS quarantined_at FROM new_quarantine""")
        report.source_rows += batch.source_rows
        for d in days:
            report.loaded[(city.key, d)] = 0
            report.quarantined[(city.key, d)] = 0
        for d, n in wanted.groupby(wanted["permit_day"].dt.date).size().items():
            report.loaded[(city.key, d)] = int(n)
        dated = q_wanted[q_wanted["permit_day"].notna()]
        for d, n in dated.groupby(dated["permit_day"].dt.date).size().items():
            report.quarantined[(city.key, d)] = int(n)
        report.undated_quarantined[city.key] = int(q_wanted["permit_day"].isna().sum())
        for reason, n in q_wanted["reason"].str.split(":").str[0].value_counts().items():
            report.reasons[reason] = report.reasons.get(reason, 0) + int(n)
    return report
