"""Permits -> construction projects: a buyer pays for the project, not for each of its permits.

Real cities file one project as several permits (building, electrical, plumbing, mechanical,
driveway). The per-city rules in `[cities.<key>.projects]` (leads.toml) join permits into one
project when they
1. share a base number (`base_pattern`, a regex whose first group is the base: Austin's
   `2016-023354 BP` / `EP` / `PP` / `MP` / `DS` share `2016-023354`);
2. one's text refers to the other (`reference_pattern`, first group a permit number or
   base: "Refer # 2015-098442 BP");
3. or, failing both, stand at the same normalized address within `address_window_days`
   with compatible work: a lone trade permit (no base-number siblings, not a building permit
   by `building_pattern`, matched on "permit number | permit type") joins the nearest project
   at its address, or another lone trade permit with the same text; two known projects (a house and a pool, two base numbers) never merge on
   the address alone.

Grouping spans partitions: it is recomputed over all of a city's raw permits on a
scoring run after they (or its project rules) changed (table `permit_projects`, its inputs'
fingerprint in `project_inputs`), so a sibling that arrives on a later day joins the
project it belongs to. Which permit leads the project is decided when it is scored
(scoring.py): one already delivered/sold/reviewed keeps the lead (a sold project stays
sold), then the building permit, then the broadest scope, the largest job, the earliest.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from lead_assets.config.errors import ConfigError
from lead_assets.warehouse.connection import transaction

# Broadest scope first: which permit's category a project takes, and which permit leads it
# when no building permit does. Trades come last: a lone EP is still its trade.
SCOPE_ORDER = (
    "new_construction", "addition", "remodel", "pool", "commercial_pool", "outdoor_living",
    "foundation", "roof", "siding", "windows", "fence", "concrete",
    "commercial_hvac", "commercial_electrical", "commercial_plumbing", "hvac", "plumbing", "electrical", "other",
)


@dataclass(frozen=True)
class ProjectRules:
    base_pattern: str | None = None
    reference_pattern: str | None = None
    building_pattern: str | None = None
    address_window_days: int | None = None

    @classmethod
    def from_toml(cls, city: str, raw: dict) -> "ProjectRules":
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"[cities.{city}.projects]: unknown key(s) {', '.join(unknown)}")
        for key in ("base_pattern", "reference_pattern", "building_pattern"):
            pattern = raw.get(key)
            if pattern is None:
                continue
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"[cities.{city}.projects] {key}: not a regular expression ({exc})") from None
            if key != "building_pattern" and compiled.groups < 1:
                raise ConfigError(f"[cities.{city}.projects] {key}: needs a capture group (the base number)")
        window = raw.get("address_window_days")
        if window is not None and (not isinstance(window, int) or window < 0):
            raise ConfigError(f"[cities.{city}.projects] address_window_days must be a whole number >= 0")
        return cls(**raw)


_NOT_WORD = re.compile(r"\W+")


class _Groups:
    """Union-find over permit indexes."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group(permits: list[tuple], rules: ProjectRules | None) -> list[tuple[str, str, bool, str]]:
    """permits (permit_num, day number, permit_type, description, address_key) of one city,
    ordered by day then number -> (permit_num, project_id, is_building, rule) in that order:
    `rule` says why a permit joined (base, reference, address) or `single`."""
    n = len(permits)
    nums = [str(p[0]) for p in permits]
    rules = rules or ProjectRules()
    groups = _Groups(n)
    find = groups.find
    why = ["single"] * n
    building = [False] * n
    if rules.building_pattern:
        search = re.compile(rules.building_pattern, re.I).search
        building = [bool(search(f"{num} | {p[2] or ''}")) for num, p in zip(nums, permits)]

    base_of = nums
    if rules.base_pattern:
        search = re.compile(rules.base_pattern).search
        base_of = [m.group(1) if m else num for num, m in zip(nums, map(search, nums))]
    by_key: dict[str, int] = {}
    for i, key in enumerate(base_of):
        first = by_key.setdefault(key, i)
        if first != i:
            groups.union(first, i)
            why[i] = why[first] = "base"
    if rules.reference_pattern:
        by_num = {num: i for i, num in enumerate(nums)}
        findall = re.compile(rules.reference_pattern).findall
        base_search = re.compile(rules.base_pattern).search if rules.base_pattern else None
        for i, p in enumerate(permits):
            for ref in findall(p[3] or ""):
                ref = (ref if isinstance(ref, str) else ref[0]).strip()
                j = by_num.get(ref, by_key.get(ref))
                if j is None and base_search:
                    m = base_search(ref)
                    j = by_key.get(m.group(1)) if m else None
                if j is not None and find(j) != find(i):
                    groups.union(i, j)
                    why[i] = "reference"

    if rules.address_window_days is not None:
        _join_by_address(permits, rules.address_window_days, groups, building, why)

    # A project's id is the smallest base (or permit number) among its permits: stable when
    # a later sibling joins.
    roots = [find(i) for i in range(n)]
    ident: dict[int, str] = {}
    for root, base in zip(roots, base_of):
        known = ident.get(root)
        if known is None or base < known:
            ident[root] = base
    return [(num, ident[root], b, w) for num, root, b, w in zip(nums, roots, building, why)]


def _join_by_address(permits: list[tuple], window: int, groups: _Groups, building: list[bool],
                     why: list[str]) -> None:
    """Rule 3: a lone trade permit joins the nearest earlier project at its address within
    `window` days (in order: the grouping is sequential by design)."""
    n = len(permits)
    find = groups.find
    has_building = [False] * n   # by project root
    size = [0] * n
    for i in range(n):
        root = find(i)
        has_building[root] = has_building[root] or building[i]
        size[root] += 1
    # Only an address that more than one permit shares can join anything.
    shared = {addr for addr, n in Counter(p[4] for p in permits if p[4]).items() if n > 1}
    texts: dict[str, str] = {}   # normalized description, only for the texts compared

    def text(i: int) -> str:
        raw = permits[i][3] or ""
        if raw not in texts:
            texts[raw] = _NOT_WORD.sub(" ", raw).strip().lower()
        return texts[raw]

    recent: dict[str, list[int]] = {}
    for i, p in enumerate(permits):
        addr = p[4]
        if addr not in shared:
            continue
        earlier = recent.setdefault(addr, [])
        if earlier:
            day = p[1]
            ri = find(i)   # i's project changes only by the union that ends this loop
            loose_i = size[ri] == 1 and not has_building[ri]   # a lone trade permit
            for j in reversed(earlier):
                if day - permits[j][1] > window:
                    break
                rj = find(j)
                loose_j = size[rj] == 1 and not has_building[rj]
                # Compatible work: a lone trade permit joins the nearest project at its address
                # (or another lone trade permit); two known projects (two base numbers, two
                # building permits: a house and a pool) never merge on the address alone.
                if ri == rj or not (loose_i or loose_j) or (has_building[ri] and has_building[rj]):
                    continue
                # Two lone trade permits are one job only when they say the same thing (an EP and
                # an MP both "Connect mobile home"); a roof and a water heater stay two leads.
                if loose_i and loose_j and text(i) != text(j):
                    continue
                groups.union(ri, rj)
                root = find(ri)
                has_building[root] = has_building[ri] or has_building[rj]
                size[root] = size[ri] + size[rj]
                for k in (i, j):
                    if why[k] == "single":
                        why[k] = "address"
                break
        earlier.append(i)


# What group() reads of a city: its permits (count and an order-free hash of the columns
# grouped on) and its rules.
_INPUTS_SQL = """
    SELECT r.city, count(*) AS permits,
           count(*)::VARCHAR || ':' || sum(hash(r.permit_num, r.permit_day, r.permit_type,
                                                r.description, r.address_key))::VARCHAR AS fingerprint,
           (SELECT count(*) FROM permit_projects m WHERE m.city = r.city) AS grouped
    FROM raw_permits r WHERE r.city IN (SELECT unnest(?::VARCHAR[])) GROUP BY r.city
"""


def refresh(con, settings, cities: list[str]) -> None:
    """Recompute `permit_projects` for these cities from all their raw permits (one read,
    one replace for all of them). A city whose permits and project rules are those it was
    last grouped from keeps its grouping (a rescore, a retry of failed scores)."""
    keys = sorted(set(cities))
    # Read inside the transaction: with DuckLake another process may be loading these
    # cities' other days; a commit over a newer grouping then conflicts and is retried.
    with transaction(con, keys=keys):
        stored = dict(con.execute("SELECT city, fingerprint FROM project_inputs WHERE city IN "
                                  "(SELECT unnest(?::VARCHAR[]))", [keys]).fetchall())
        fingerprints, unchanged = {}, set()
        for city, permits, fingerprint, grouped in con.execute(_INPUTS_SQL, [keys]).fetchall():
            source = settings.cities.get(city)
            fingerprints[city] = f"{fingerprint}|{source.projects if source else None}"
            if stored.get(city) == fingerprints[city] and grouped == permits:
                unchanged.add(city)
        keys = [c for c in keys if c not in unchanged]   # (a city without permits: its rows go)
        if not keys:
            return
        # (the day as a day number: group() only subtracts days)
        rows = con.execute("""SELECT city, permit_num, permit_day - DATE '1970-01-01', permit_type, description,
                                     address_key
                              FROM raw_permits WHERE city IN (SELECT unnest(?::VARCHAR[]))
                              ORDER BY city, permit_day, permit_num""", [keys]).fetchall()
        by_city: dict[str, list[tuple]] = {}
        for row in rows:
            by_city.setdefault(row[0], []).append(row[1:])
        out: list[tuple] = []
        for city in keys:
            source = settings.cities.get(city)
            out.extend((city, num, f"{city}:{pid}", building, rule)
                       for num, pid, building, rule in group(by_city.get(city, []), source.projects if source else None))
        grouped = pd.DataFrame(out, columns=["city", "permit_num", "project_id", "is_building", "rule"])
        inputs = pd.DataFrame([(c, fingerprints[c]) for c in keys if c in fingerprints],
                              columns=["city", "fingerprint"], dtype=object)
        con.register("_grouped", grouped)
        con.register("_inputs", inputs)
        try:
            con.execute("DELETE FROM permit_projects WHERE city IN (SELECT unnest(?::VARCHAR[]))", [keys])
            con.execute("""INSERT INTO permit_projects (city, permit_num, project_id, is_building, rule)
                           SELECT city, permit_num, project_id, is_building, rule FROM _grouped""")
            con.execute("DELETE FROM project_inputs WHERE city IN (SELECT unnest(?::VARCHAR[]))", [keys])
            con.execute("INSERT INTO project_inputs SELECT city::VARCHAR, fingerprint::VARCHAR FROM _inputs")
        finally:
            con.unregister("_grouped")
            con.unregister("_inputs")


def scope_rank_sql(category: str = "category") -> str:
    arms = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(SCOPE_ORDER))
    return f"CASE {category} {arms} ELSE {len(SCOPE_ORDER)} END"


# A lead that a buyer, a reviewer or the seller has touched keeps leading its project.
HELD_SQL = """(EXISTS (SELECT 1 FROM deliveries d WHERE d.city = {t}.city AND d.permit_id = {t}.permit_id)
    OR EXISTS (SELECT 1 FROM sales x WHERE x.city = {t}.city AND x.permit_id = {t}.permit_id)
    OR EXISTS (SELECT 1 FROM lead_reviews v WHERE v.city = {t}.city AND v.permit_id = {t}.permit_id)
    OR EXISTS (SELECT 1 FROM lead_status m WHERE m.city = {t}.city AND m.permit_id = {t}.permit_id))"""


def aggregate_sql(per_permit: str) -> str:
    """One candidate row per project from the per-permit table `per_permit` (a table: its
    rowid is used; lead_inputs' columns plus project_id, is_building): the lead permit's row, with owner, values and
    dates from whichever permit has them, the category of the broadest permit, a volume
    builder on any permit discarding the whole project, and the other permit numbers.

    Most projects are one permit: that permit is the candidate as it is, and only the
    projects of several permits are ranked and aggregated."""
    return f"""
        WITH sizes AS (
            SELECT city, project_id, count(*) AS project_size FROM {per_permit} GROUP BY ALL
        ), ranked AS (
            -- the ranks are computed on the sort keys alone (by rowid), not on the wide rows
            SELECT p.rowid AS rid, p.city, p.project_id, {HELD_SQL.format(t='p')} AS held,
                {scope_rank_sql('p.category')} AS scope_rank, p.is_building, p.est_project_cost,
                p.permit_day, p.permit_id
            FROM {per_permit} p JOIN sizes s USING (city, project_id) WHERE s.project_size > 1
        ), ranks AS (
            SELECT rid, held, scope_rank,
                row_number() OVER (PARTITION BY city, project_id ORDER BY held DESC, is_building DESC,
                    scope_rank, est_project_cost DESC NULLS LAST, permit_day, permit_id) AS lead_rank,
                row_number() OVER (PARTITION BY city, project_id ORDER BY is_building DESC,
                    scope_rank, est_project_cost DESC NULLS LAST, permit_day, permit_id) AS scope_pos
            FROM ranked
        ), ordered AS (
            SELECT p.*, r.held, r.scope_rank, r.lead_rank, r.scope_pos
            FROM {per_permit} p JOIN ranks r ON r.rid = p.rowid
        ), agg AS (
            -- arg_min skips NULL values: each any_* is the first permit (by rank) that has one
            SELECT city, project_id, count(*) AS project_size,
                arg_min(category, scope_pos) AS project_category,
                arg_min(class_flags, scope_pos) AS project_class_flags,
                arg_min(owner_name, lead_rank) AS any_owner,
                max(market_value) AS any_market_value,
                arg_min(mail_address, lead_rank) AS any_mail,
                arg_min(is_absentee, lead_rank) AS any_absentee,
                max(est_project_cost) AS any_cost, min(issued_date) AS first_issued,
                arg_min(property_address, lead_rank) AS any_address,
                bool_or(discard_reason = 'production_builder') AS any_builder,
                bool_or(homeowner_pulled) AS any_homeowner,
                string_agg(permit_id, ', ' ORDER BY permit_day, permit_id) FILTER (WHERE lead_rank > 1) AS others
            FROM ordered GROUP BY ALL
        )
        SELECT o.* EXCLUDE (held, scope_rank, lead_rank, scope_pos, category, class_flags, owner_name,
                            market_value, mail_address, is_absentee, est_project_cost, issued_date,
                            property_address, discard_reason, homeowner_pulled),
            coalesce(o.property_address, a.any_address) AS property_address,
            coalesce(o.owner_name, a.any_owner) AS owner_name,
            coalesce(o.market_value, a.any_market_value) AS market_value,
            coalesce(o.mail_address, a.any_mail) AS mail_address,
            coalesce(o.is_absentee, a.any_absentee) AS is_absentee,
            coalesce(o.est_project_cost, a.any_cost) AS est_project_cost,
            coalesce(o.issued_date, a.first_issued) AS issued_date,
            a.project_category AS category,
            nullif(concat_ws('|', a.project_class_flags,
                             CASE WHEN a.project_size > 1 THEN 'project_permits:' || a.project_size END), '')
                AS class_flags,
            coalesce(o.discard_reason, CASE WHEN a.any_builder THEN 'production_builder' END) AS discard_reason,
            coalesce(o.homeowner_pulled, false) OR coalesce(a.any_homeowner, false) AS homeowner_pulled,
            a.project_size,
            CASE WHEN a.others IS NOT NULL THEN 'project also: ' || a.others END AS project_note
        FROM ordered o JOIN agg a USING (city, project_id)
        WHERE o.lead_rank = 1
        UNION ALL BY NAME
        SELECT p.* EXCLUDE (class_flags, homeowner_pulled),
            nullif(p.class_flags, '') AS class_flags, coalesce(p.homeowner_pulled, false) AS homeowner_pulled,
            1::BIGINT AS project_size, NULL::VARCHAR AS project_note
        FROM {per_permit} p JOIN sizes s USING (city, project_id) WHERE s.project_size = 1
    """


# The lead (scored row) a permit number names: itself, or the lead of its project.
LEAD_OF_SQL = """(SELECT s2.city, s2.permit_id FROM permit_projects me
    JOIN permit_projects sib ON sib.city = me.city AND sib.project_id = me.project_id
    JOIN scored_leads s2 ON s2.city = sib.city AND s2.permit_id = sib.permit_num
    WHERE me.permit_num = ?)"""
