"""Landing files -> `raw_permits` and `quarantine`, for a set of city x day partitions."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from lead_assets.sources.normalize import normalize
from lead_assets.config.settings import Settings
from lead_assets.sources.landing import read_city, stage
from lead_assets.warehouse.connection import connect, register_partitions, retry_conflicts, transaction


@dataclass
class IngestReport:
    source_rows: int = 0                                                    # rows in the files read
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


@retry_conflicts  # DuckLake: a write that lost to another process runs again from a fresh snapshot
def ingest(settings: Settings, partitions: list[tuple[str, date]]) -> IngestReport:
    """Load the given (city, day) partitions from the landing folder.

    Each city's files are parsed once (by DuckDB's CSV or JSON reader, or Python's for the
    files it cannot read exactly; see landing.py), however many of its days are asked for; mapping,
    typing and de-duplication run as SQL in one short warehouse transaction. Rows of days not
    asked for are left to their own partitions; rows with no usable day belong to the city
    and are re-quarantined on every load of it.
    """
    days_by_city: dict[str, set[date]] = defaultdict(set)
    for city, day in partitions:
        days_by_city[settings.city(city).key].add(day)
    reads = [read_city(settings.landing_dir, settings.city(c)) for c in days_by_city]
    report = IngestReport(
        files=sum(len(r.files) for r in reads),
        empty_files=[f for r in reads for f in r.empty_files],
        recoded_files=[f for r in reads for f in r.recoded_files])
    parts = sorted((c, d) for c, days in days_by_city.items() for d in days)
    last_day = max(settings.today() - timedelta(days=1), *(d for _, d in parts))
    with connect(settings.warehouse_path) as con:
        report.source_rows = stage(con, reads)
        report.file_errors = [e for r in reads for e in r.file_errors]   # stage adds JSON files' own
        normalize(con, {r.city.key: r.city.date_formats for r in reads}, settings.start_date, last_day)
        register_partitions(con, parts)
        con.execute("""CREATE OR REPLACE TEMP TABLE new_quarantine AS SELECT * FROM norm_quarantine
                       WHERE permit_day IS NULL OR (city, permit_day) IN (SELECT city, permit_day FROM parts)""")
        with transaction(con, keys=days_by_city):   # a city's undated rows, moved permits: city-wide
            con.execute("DELETE FROM raw_permits WHERE (city, permit_day) IN (SELECT city, permit_day FROM parts)")
            con.execute("""DELETE FROM quarantine WHERE city IN (SELECT city FROM parts) AND (permit_day IS NULL
                           OR (city, permit_day) IN (SELECT city, permit_day FROM parts))""")
            con.execute("""INSERT INTO raw_permits BY NAME
                           SELECT *, now()::TIMESTAMP AS loaded_at FROM norm_permits
                           WHERE (city, permit_day) IN (SELECT city, permit_day FROM parts)""")
            con.execute("INSERT INTO quarantine BY NAME SELECT *, now()::TIMESTAMP AS quarantined_at FROM new_quarantine")
            # A permit whose issued date changed in a later file lives on its new day only: drop
            # its row under the old day (its scored row moves when the new day is scored).
            con.execute("""DELETE FROM raw_permits r WHERE EXISTS (
                               SELECT 1 FROM norm_permits n JOIN parts USING (city, permit_day)
                               WHERE n.city = r.city AND n.permit_num = r.permit_num
                                 AND n.permit_day <> r.permit_day)""")
        for city, day, n in con.execute("""SELECT p.city, p.permit_day, count(n.permit_num) FROM parts p
                LEFT JOIN norm_permits n USING (city, permit_day) GROUP BY ALL""").fetchall():
            report.loaded[(city, day)] = n
            report.quarantined[(city, day)] = 0
        for city, day, n in con.execute("SELECT city, permit_day, count(*) FROM new_quarantine GROUP BY ALL").fetchall():
            if day is None:
                report.undated_quarantined[city] = n
            else:
                report.quarantined[(city, day)] = n
        report.reasons = dict(con.execute(
            "SELECT split_part(reason, ':', 1), count(*) FROM new_quarantine GROUP BY 1 ORDER BY 1").fetchall())
    return report
