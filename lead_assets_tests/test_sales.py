"""The sales lifecycle: buyers, review, sell, deliver, archive, status, report, and its rules."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from lead_assets.exports.files import write_atomic, write_buyer_files
from lead_assets.sales.buyers import Buyer, buyer_slug, get_buyer, list_buyers, validate_buyer_name
from lead_assets.sales.deliveries import deliver, package_dir, record_deliveries
from lead_assets.sales.errors import SalesError
from lead_assets.sales.money import parse_money
from lead_assets.sales.sharing import sharing_violations
from lead_assets.config.settings import Settings
from lead_assets.warehouse.store import LeadStore
from lead_assets.leads.taxonomy import EXPORT_COLUMNS, REVIEW_FILE
from lead_assets.warehouse.connection import connect
from lead_assets_tests.test_sales_fixtures import (  # noqa: F401 - fixtures
    TODAY, all_main_ids, file_rows, main_file_ids, query, review_leads, run, sales_template, shop, snapshot,
    top_lead,
)

POOL = "ABC Pool Company"
DAY = TODAY.isoformat()


def add_pool_buyer(capsys, *extra: str) -> None:
    code, out, err = run(capsys, "buyers", "add", POOL, "--categories", "pool", "--tiers", "A", "B",
                         "--price-a", "25", "--price-b", "15.50", "--exclusive", "--contact", "abc@example.com",
                         *extra)
    assert code == 0, err


# ------------------------------------------------------------------------------ money

@pytest.mark.parametrize("given, expected", [
    ("25", "25.00"), ("25.00", "25.00"), ("$25.5", "25.50"), (" 7.25 ", "7.25"), (Decimal("25"), "25.00"),
    (25, "25.00"), ("25.000", "25.00"), ("99999999.99", "99999999.99"),
])
def test_money_is_decimal(given, expected):
    value = parse_money(given)
    assert isinstance(value, Decimal) and value == Decimal(expected) and str(value) == expected


@pytest.mark.parametrize("given, message", [
    (25.0, "not the float"), ("-5", "negative"), (Decimal("-0.01"), "negative"), ("0", "more than zero"),
    ("0.00", "more than zero"), ("1.234", "two decimal places"), ("abc", "not money"), ("nan", "not an amount"),
    (Decimal("NaN"), "not an amount"), ("inf", "not an amount"), ("1e3", "not money"), ("25,00", "not money"),
    ("", "not money"), ("100000000", "too large"), (None, "not NoneType"), (True, "text or a Decimal"),
])
def test_money_rejects_what_is_not_money(given, message):
    with pytest.raises(SalesError, match=message):
        parse_money(given)


def test_zero_is_money_where_allowed():
    assert parse_money("0", allow_zero=True) == Decimal("0.00")


# ----------------------------------------------------------------------------- buyers

def test_buyers_add_update_list_and_remove(shop, capsys):
    add_pool_buyer(capsys)
    code, out, _ = run(capsys, "buyers", "add", "Shady Roofs", "--trade-groups", "home_exterior",
                       "--price-a", "20", "--price-b", "10.50", "--max-buyers", "2", "--cities", "plano", "Frisco")
    assert code == 0 and "shared (max 2 buyers)" in out
    code, out, _ = run(capsys, "buyers", "list", "--format", "json")
    buyers = {b["name"]: b for b in json.loads(out)}
    assert buyers[POOL]["categories"] == ["pool"] and buyers[POOL]["tiers"] == ["A", "B"]
    assert buyers[POOL]["price_b"] == "15.50" and buyers[POOL]["sharing"] == "exclusive"
    assert buyers["Shady Roofs"]["tiers"] == ["A", "B"] and buyers["Shady Roofs"]["cities"] == ["plano", "frisco"]
    code, out, _ = run(capsys, "buyers", "list")
    assert POOL in out and "$15.50" in out

    code, out, _ = run(capsys, "buyers", "update", POOL, "--price-c", "5", "--tiers", "A", "B", "C")
    assert code == 0
    b = get_buyer(shop, "abc pool company")                  # case-insensitive lookup
    assert (b.tiers, b.price_a, b.price_c, b.exclusive) == (("A", "B", "C"), Decimal("25.00"), Decimal("5.00"), True)
    assert query(shop, "SELECT DISTINCT typeof(price_a) FROM buyers") == [("DECIMAL(10,2)",)]

    assert run(capsys, "buyers", "remove", "Shady Roofs")[0] == 0
    assert [b.name for b in list_buyers(shop)] == [POOL]


BAD_BUYERS = [
    (["../evil", "--categories", "pool", "--price-a", "1"], "may not contain"),
    (["a/b", "--categories", "pool", "--price-a", "1"], "may not contain"),
    (["a\\b", "--categories", "pool", "--price-a", "1"], "may not contain"),
    (["..", "--categories", "pool", "--price-a", "1"], "may not contain"),
    ([".hidden", "--categories", "pool", "--price-a", "1"], "may not start with"),
    (["!!!", "--categories", "pool", "--price-a", "1"], "no letters or digits"),
    (["Bad\nName", "--categories", "pool", "--price-a", "1"], "control characters"),
    (["X", "--price-a", "1"], "at least one trade group or category"),
    (["X", "--categories", "pool", "--tiers", "A", "B", "--price-a", "1"], "no tier B price"),
    (["X", "--categories", "pool"], "at least one tier"),
    (["X", "--categories", "pool", "--price-a", "-1"], "negative"),
    (["X", "--categories", "pool", "--price-a", "1.001"], "decimal places"),
    (["X", "--categories", "pool", "--price-a", "ten"], "not money"),
    (["X", "--categories", "pool", "--price-a", "1", "--cities", "dallas"], "unknown city"),
    (["X", "--categories", "pool", "--price-a", "1", "--exclusive", "--max-buyers", "3"], "shared buyers"),
    (["X", "--categories", "pool", "--price-a", "1", "--max-buyers", "1"], "between 2 and 50"),
    (["abc pool company", "--categories", "pool", "--price-a", "1"], "already exists"),
    (["ABC-Pool Company!", "--categories", "pool", "--price-a", "1"], "already exists"),   # same folder
]


def test_bad_buyers_are_refused_and_change_nothing(shop, capsys):
    add_pool_buyer(capsys)
    before = snapshot(shop)
    for argv, message in BAD_BUYERS:
        code, _, err = run(capsys, "buyers", "add", *argv)
        assert code == 2 and message in err, (argv, err)
    for argv, message in ((["update", "Nobody", "--price-a", "2"], "unknown buyer"),
                          (["update", POOL, "--price-a", "0.001"], "decimal places"),
                          (["update", POOL, "--tiers", "C"], "no tier C price"),
                          (["remove", "Nobody"], "unknown buyer")):
        code, _, err = run(capsys, "buyers", *argv)
        assert code == 2 and message in err, (argv, err)
    assert snapshot(shop) == before           # (the tables only grow: one check after all the cases)
    assert not (shop.exports_dir / "_delivered").exists()


def test_buyer_folders_are_slugs_inside_delivered(shop):
    assert buyer_slug("ABC Pool Company") == "abc-pool-company"
    assert buyer_slug("Piscinas Peña & Hijos, LLC") == "piscinas-pena-hijos-llc"
    folder = package_dir(shop, Buyer(name="ABC Pool Company"), TODAY)
    assert folder == (shop.exports_dir / "_delivered" / DAY / "abc-pool-company").resolve()
    for bad in ("../x", "a/../../b", "/etc", "..\\x"):
        with pytest.raises(SalesError):
            validate_buyer_name(bad)


# ----------------------------------------------------------------------------- review

def test_review_approve_and_reject(shop, capsys):
    (c1, p1), (c2, p2) = review_leads(shop)[:2]
    queue = {r["permit_id"] for r in file_rows(shop.exports_dir / REVIEW_FILE)}
    assert {p1, p2} <= queue and not {p1, p2} & all_main_ids(shop)
    code, out, _ = run(capsys, "review", "list")
    assert code == 0 and p1 in out

    code, out, err = run(capsys, "review", "approve", p1, "--city", c1, "--note", "checked by hand")
    assert code == 0, err
    code, out, err = run(capsys, "review", "reject", p2, "--city", c2)
    assert code == 0, err

    queue = {r["permit_id"] for r in file_rows(shop.exports_dir / REVIEW_FILE)}
    assert p1 not in queue and p2 not in queue                # both leave the queue
    main = all_main_ids(shop)
    assert p1 in main and p2 not in main                      # approved in, rejected never
    rows = query(shop, "SELECT city, permit_id, decision, note FROM lead_reviews ORDER BY decision")
    assert rows == [(c1, p1, "approve", "checked by hand"), (c2, p2, "reject", None)]

    # the rejected lead can't be sold or delivered either
    add_pool_buyer(capsys)
    code, _, err = run(capsys, "sell", p2, "--city", c2, "--to", POOL, "--price", "5")
    assert code == 2 and "rejected in review" in err


def test_review_of_a_lead_not_in_review_is_refused(shop, capsys):
    city, permit = review_leads(shop)[0]
    assert run(capsys, "review", "approve", permit, "--city", city)[0] == 0
    before = snapshot(shop)
    for argv, message in (
        (["review", "reject", permit, "--city", city], "already approved"),
        (["review", "approve", top_lead(shop, "pool")[1]], "not flagged for review"),
        (["review", "approve", "NO-SUCH-PERMIT"], "unknown permit"),
        (["review", "approve", permit, "--city", "dallas"], "unknown city"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err, (argv, err)
    assert snapshot(shop) == before


# ------------------------------------------------------------------------------- sell

def test_sell_by_hand_records_a_decimal_sale(shop, capsys):
    add_pool_buyer(capsys)
    city, permit = top_lead(shop, "pool")
    assert permit in all_main_ids(shop)
    code, out, err = run(capsys, "sell", permit, "--to", POOL, "--price", "25.00", "--note", "phone")
    assert code == 0, err
    assert "for $25.00" in out
    rows = query(shop, "SELECT city, permit_id, buyer, price, via, note, sold_on, tier, category FROM sales")
    assert rows == [(city, permit, POOL, Decimal("25.00"), "manual", "phone", TODAY, "A", "pool")]
    assert isinstance(rows[0][3], Decimal)
    assert permit not in all_main_ids(shop)                    # the buyer files are refreshed

    lead = LeadStore(shop).get(permit, city)
    assert (lead.status, lead.sold_to, lead.sold_price) == ("sold", POOL, Decimal("25.00"))


def test_sell_without_price_uses_the_buyers_tier_price(shop, capsys):
    add_pool_buyer(capsys)
    _, permit = top_lead(shop, "pool", "B")
    assert run(capsys, "sell", permit, "--to", POOL)[0] == 0
    assert query(shop, "SELECT price FROM sales") == [(Decimal("15.50"),)]


def test_bad_sales_are_refused_and_change_nothing(shop, capsys):
    add_pool_buyer(capsys)
    assert run(capsys, "buyers", "add", "Other Pools", "--categories", "pool", "--price-a", "30")[0] == 0
    _, permit = top_lead(shop, "pool")
    _, fresh = top_lead(shop, "pool", offset=1)
    _, dead = top_lead(shop, "pool", offset=2)
    assert run(capsys, "sell", permit, "--to", POOL, "--price", "25")[0] == 0
    assert run(capsys, "status", dead, "dead")[0] == 0
    _, review_permit = review_leads(shop)[0]
    discarded = query(shop, "SELECT permit_id FROM scored_leads WHERE discarded LIMIT 1")[0][0]
    retry = query(shop, "SELECT permit_id FROM scored_leads WHERE NOT discarded ORDER BY score LIMIT 1")[0][0]
    query(shop, "UPDATE scored_leads SET score = -1, tier = 'RETRY' WHERE permit_id = ?", [retry])
    before = snapshot(shop)
    files = {p: p.read_bytes() for p in shop.exports_dir.rglob("*.csv")}
    for argv, message in (
        (["sell", "NOPE-1", "--to", POOL, "--price", "25"], "unknown permit"),
        (["sell", fresh, "--to", "Nobody Inc", "--price", "25"], "unknown buyer"),
        (["sell", fresh, "--to", POOL, "--price", "-25"], "negative"),
        (["sell", fresh, "--to", POOL, "--price", "0"], "more than zero"),
        (["sell", fresh, "--to", POOL, "--price", "twenty"], "not money"),
        (["sell", fresh, "--to", POOL, "--price", "25.001"], "two decimal places"),
        (["sell", fresh, "--to", POOL, "--price", "NaN"], "not an amount"),
        (["sell", fresh, "--to", POOL, "--price", "1e2"], "not money"),
        (["sell", permit, "--to", "Other Pools", "--price", "30"], "went exclusively to ABC Pool Company"),
        (["sell", permit, "--to", POOL, "--price", "25"], "already sold to ABC Pool Company"),
        (["sell", review_permit, "--to", POOL, "--price", "25"], "waiting in review"),
        (["sell", dead, "--to", POOL, "--price", "25"], "marked dead"),
        (["sell", discarded, "--to", POOL, "--price", "25"], "not a lead"),
        (["sell", retry, "--to", POOL, "--price", "25"], "scoring failed"),
        (["sell", fresh, "--to", POOL, "--price", "25", "--city", "dallas"], "unknown city"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err, (argv, err)
    assert snapshot(shop) == before
    assert {p: p.read_bytes() for p in shop.exports_dir.rglob("*.csv")} == files


def test_a_permit_id_used_in_two_cities_needs_city(shop, capsys):
    add_pool_buyer(capsys)
    city, permit = top_lead(shop, "pool")
    other = next(c for c in shop.cities if c != city)
    query(shop, f"INSERT INTO scored_leads SELECT * REPLACE ('{other}' AS city) FROM scored_leads "
                "WHERE city = ? AND permit_id = ?", [city, permit])
    before = snapshot(shop)
    code, _, err = run(capsys, "sell", permit, "--to", POOL, "--price", "25")
    assert code == 2 and "several cities" in err and city in err and other in err and "--city" in err
    assert snapshot(shop) == before
    assert run(capsys, "sell", permit, "--to", POOL, "--price", "25", "--city", other)[0] == 0
    assert query(shop, "SELECT city FROM sales") == [(other,)]
    # the same permit id in the first city is a different lead: still unsold, still in the files
    assert LeadStore(shop).get(permit, city).status == "new"
    assert LeadStore(shop).get(permit, other).status == "sold"


# ---------------------------------------------------------------------------- deliver

def test_deliver_writes_the_package_and_records_each_lead(shop, capsys):
    add_pool_buyer(capsys)
    main_a = file_rows(shop.exports_dir / "luxury_outdoor/pool/tier_a.csv")
    main_b = file_rows(shop.exports_dir / "luxury_outdoor/pool/tier_b.csv")
    n_a, n_b = len(main_a), len(main_b)
    assert n_a > 0 and n_b > 0

    code, out, _ = run(capsys, "deliver", "--buyer", POOL, "--dry-run")
    assert code == 0 and f"would deliver {n_a + n_b} lead(s)" in out and "dry run" in out
    assert not (shop.exports_dir / "_delivered").exists() and snapshot(shop)["deliveries"] == []

    code, out, err = run(capsys, "deliver", "--buyer", POOL)
    assert code == 0, err
    package = shop.exports_dir / "_delivered" / DAY / "abc-pool-company"
    # the seed's 17 columns, and the very rows the main files held, best first
    with open(package / "luxury_outdoor/pool/tier_a.csv", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == list(EXPORT_COLUMNS)
    assert file_rows(package / "luxury_outdoor/pool/tier_a.csv") == main_a
    assert file_rows(package / "luxury_outdoor/pool/tier_b.csv") == main_b
    assert sorted(p.name for p in (shop.exports_dir / "_delivered" / DAY).iterdir()) == ["abc-pool-company"]

    deliveries = query(shop, "SELECT buyer, delivered_on, file, via, count(*) FROM deliveries GROUP BY ALL ORDER BY 3")
    assert deliveries == [
        (POOL, TODAY, f"_delivered/{DAY}/abc-pool-company/luxury_outdoor/pool/tier_a.csv", "deliver", n_a),
        (POOL, TODAY, f"_delivered/{DAY}/abc-pool-company/luxury_outdoor/pool/tier_b.csv", "deliver", n_b)]
    assert query(shop, "SELECT count(DISTINCT (city, permit_id)) FROM deliveries") == [(n_a + n_b,)]
    assert query(shop, "SELECT tier, price, count(*) FROM sales GROUP BY ALL ORDER BY 1") == [
        ("A", Decimal("25.00"), n_a), ("B", Decimal("15.50"), n_b)]
    assert f"${n_a * 25 + n_b * Decimal('15.50'):,.2f}" in out
    # the main files no longer hold them
    assert main_file_ids(shop, "luxury_outdoor/pool/tier_a") == set()
    assert [l for l in LeadStore(shop).filter(category="pool", tier="A", status="new") if not l.needs_review] == []
    assert len(LeadStore(shop).filter(category="pool", tier="A", status="sold")) == n_a

    # nothing twice: not the same day, not a later day
    code, out, _ = run(capsys, "deliver", "--buyer", POOL)
    assert "nothing new to deliver" in out
    before = snapshot(shop)
    later = Settings.load(shop.config_path, today=(TODAY + timedelta(days=1)).isoformat())
    plan = deliver(later, POOL)
    assert plan.leads.empty and snapshot(shop) == before
    write_buyer_files(later)
    assert main_file_ids(later, "luxury_outdoor/pool/tier_a") == set()


def test_a_second_delivery_the_same_day_is_added_to_the_package(shop, capsys):
    add_pool_buyer(capsys)
    assert run(capsys, "deliver", "--buyer", POOL, "--limit", "2")[0] == 0
    path = shop.exports_dir / "_delivered" / DAY / "abc-pool-company" / "luxury_outdoor/pool/tier_a.csv"
    first = file_rows(path)
    assert len(first) == 2
    assert run(capsys, "deliver", "--buyer", POOL, "--limit", "3")[0] == 0
    rows = file_rows(path)
    assert rows[:2] == first and len(rows) == 5 and len({r["permit_id"] for r in rows}) == 5
    assert query(shop, "SELECT count(*) FROM deliveries") == [(5,)]


def test_a_buyer_takes_only_its_trade_groups_tiers_and_cities(shop, capsys):
    code, _, err = run(capsys, "buyers", "add", "Plano Roofs", "--trade-groups", "home_exterior", "--tiers", "A",
                       "--price-a", "20", "--cities", "plano")
    assert code == 0, err
    plan = deliver(shop, "Plano Roofs")
    leads = plan.leads
    assert len(leads) > 0
    assert set(leads["trade_group"]) == {"home_exterior"} and set(leads["tier"]) == {"A"}
    assert set(leads["city_key"]) == {"plano"} and set(leads["city"]) == {"Plano"}


def test_exclusive_and_shared_leads(shop, capsys):
    roofs_a = len(main_file_ids(shop, "home_exterior/roof/tier_a"))
    for argv in (["Shared One", "--max-buyers", "2"], ["Shared Two", "--shared"],
                 ["Shared Three", "--max-buyers", "5"], ["Solo Roofs", "--exclusive"]):
        assert run(capsys, "buyers", "add", *argv, "--categories", "roof", "--price-a", "10")[0] == 0
    assert len(deliver(shop, "Shared One").leads) == roofs_a
    assert len(deliver(shop, "Shared Two").leads) == roofs_a         # shared: a second buyer may have them
    plan = deliver(shop, "Shared Three")                             # but Shared One allows 2 buyers per lead
    assert plan.leads.empty and plan.held_elsewhere == roofs_a
    assert deliver(shop, "Solo Roofs").leads.empty                   # exclusive: only leads nobody has
    code, _, err = run(capsys, "sell", top_lead(shop, "roof")[1], "--to", "Shared Three", "--price", "9")
    assert code == 2 and "limit is 2" in err

    # an exclusive buyer's leads go to nobody else, shared or not
    add_pool_buyer(capsys)
    assert run(capsys, "buyers", "add", "Pool Share", "--categories", "pool", "--price-a", "9", "--shared")[0] == 0
    pool_a = len(main_file_ids(shop, "luxury_outdoor/pool/tier_a"))
    assert (deliver(shop, POOL).leads["tier"] == "A").sum() == pool_a
    assert deliver(shop, "Pool Share").leads.empty
    with connect(shop.warehouse_path) as con:
        assert sharing_violations(con) == []
    assert query(shop, """SELECT max(n) FROM (SELECT count(DISTINCT buyer) AS n FROM deliveries
                          GROUP BY city, permit_id)""") == [(2,)]


def test_a_failed_write_leaves_no_package_and_records_nothing(shop, capsys, monkeypatch):
    add_pool_buyer(capsys)
    assert run(capsys, "deliver", "--buyer", POOL, "--limit", "1")[0] == 0
    package = shop.exports_dir / "_delivered" / DAY / "abc-pool-company"
    before_files = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    before = snapshot(shop)

    calls = []
    real = write_atomic

    def flaky(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr("lead_assets.sales.deliveries.write_atomic", flaky)
    with pytest.raises(OSError, match="disk full"):
        deliver(shop, POOL)
    assert len(calls) == 2
    assert snapshot(shop) == before
    after_files = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    assert after_files == before_files                         # the earlier package is untouched
    assert [p.name for p in package.parent.iterdir()] == ["abc-pool-company"]   # no temp folders left


def test_a_failed_recording_removes_the_package(shop, capsys, monkeypatch):
    add_pool_buyer(capsys)
    before = snapshot(shop)
    main_before = (shop.exports_dir / "luxury_outdoor/pool/tier_a.csv").read_bytes()
    real = record_deliveries

    def record_then_fail(con, settings, rows, *, via):
        real(con, settings, rows, via=via)                     # rows inserted, then the transaction fails
        raise RuntimeError("lost the warehouse")

    monkeypatch.setattr("lead_assets.sales.deliveries.record_deliveries", record_then_fail)
    with pytest.raises(RuntimeError, match="lost the warehouse"):
        run(capsys, "deliver", "--buyer", POOL)
    assert snapshot(shop) == before
    assert list((shop.exports_dir / "_delivered").rglob("*")) == []      # not even an empty day folder
    assert (shop.exports_dir / "luxury_outdoor/pool/tier_a.csv").read_bytes() == main_before


def test_deliver_to_an_unknown_buyer_is_refused(shop, capsys):
    add_pool_buyer(capsys)
    code, _, err = run(capsys, "deliver", "--buyer", "Nobody")
    assert code == 2 and "unknown buyer 'Nobody'" in err and POOL in err
    code, _, err = run(capsys, "deliver", "--buyer", POOL, "--limit", "0")
    assert code == 2 and "at least 1" in err
    assert not (shop.exports_dir / "_delivered").exists()


def test_deliver_all_and_free_tiers(shop, capsys):
    add_pool_buyer(capsys)
    assert run(capsys, "buyers", "add", "Free Fences", "--categories", "fence", "--price-c", "0")[0] == 0
    code, out, _ = run(capsys, "deliver", "--all")
    assert code == 0 and POOL in out and "Free Fences" in out and "free (tier priced 0)" in out
    fences = query(shop, "SELECT count(*) FROM deliveries WHERE buyer = 'Free Fences'")[0][0]
    assert fences > 0
    assert query(shop, "SELECT count(*) FROM sales WHERE buyer = 'Free Fences'") == [(0,)]
    assert {l.status for l in LeadStore(shop).filter(buyer="Free Fences")} == {"delivered"}


# ---------------------------------------------------------------------------- archive

def test_archive_moves_hand_sent_files_and_marks_their_leads_delivered(shop, capsys):
    code, _, _ = run(capsys, "buyers", "add", "Cool Air", "--categories", "hvac", "--price-a", "18", "--price-b", "9")
    assert code == 0
    files = {k: (shop.exports_dir / f"{k}.csv").read_bytes() for k in ("home_systems/hvac/tier_a",
                                                                        "home_systems/hvac/tier_b")}
    ids = {k: main_file_ids(shop, k) for k in files}
    assert all(ids.values())

    code, out, _ = run(capsys, "archive", "--dry-run")
    assert code == 0 and "dry run" in out and snapshot(shop)["deliveries"] == []

    code, out, err = run(capsys, "archive")                    # each buyer's files, as sent today
    assert code == 0, err
    package = shop.exports_dir / "_delivered" / DAY / "cool-air"
    for key, data in files.items():
        assert (package / f"{key}.csv").read_bytes() == data  # moved as they were
        assert main_file_ids(shop, key) == set()               # and gone from the main tree
    n = sum(len(v) for v in ids.values())
    assert query(shop, "SELECT via, count(*) FROM deliveries GROUP BY ALL") == [("archive", n)]
    assert query(shop, "SELECT count(*) FROM sales") == [(0,)]
    assert {l.status for l in LeadStore(shop).filter(category="hvac", tier="A")} == {"delivered"}
    assert "nothing new" in run(capsys, "deliver", "--buyer", "Cool Air")[1]


def test_archive_with_sell_for_one_buyer_and_file(shop, capsys):
    add_pool_buyer(capsys)
    n = len(main_file_ids(shop, "luxury_outdoor/pool/tier_a"))
    code, out, err = run(capsys, "archive", "luxury_outdoor/pool/tier_a.csv", "--buyer", POOL, "--sell")
    assert code == 0, err
    assert query(shop, "SELECT count(*), sum(price) FROM sales") == [(n, Decimal("25.00") * n)]
    assert main_file_ids(shop, "luxury_outdoor/pool/tier_b")   # the other file was not archived


def test_bad_archives_change_nothing(shop, capsys):
    add_pool_buyer(capsys)
    assert run(capsys, "buyers", "add", "Pool Two", "--categories", "pool", "--price-a", "1")[0] == 0
    before = snapshot(shop)
    files = {p: p.read_bytes() for p in shop.exports_dir.rglob("*.csv")}
    for argv, message in (
        (["archive"], "went exclusively to"),                  # two exclusive buyers take the same file
        (["archive", "luxury_outdoor/pool/tier_z.csv"], "not a buyer file"),
        (["archive", "../../etc/passwd"], "not a buyer file"),
        (["archive", "home_systems/hvac/tier_a.csv"], "no buyer takes"),
        (["archive", "--buyer", "Nobody"], "unknown buyer"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err, (argv, err)
    assert snapshot(shop) == before
    assert {p: p.read_bytes() for p in shop.exports_dir.rglob("*.csv")} == files
    assert not (shop.exports_dir / "_delivered").exists()


# ----------------------------------------------------------------------------- status

def test_status_contacted_converted_dead_and_back(shop, capsys):
    add_pool_buyer(capsys)
    city, sold = top_lead(shop, "pool")
    _, spare = top_lead(shop, "pool", offset=1)
    assert run(capsys, "sell", sold, "--to", POOL, "--price", "25")[0] == 0
    store = LeadStore(shop)
    assert run(capsys, "status", sold, "contacted", "--note", "left a message")[0] == 0
    assert store.get(sold).status == "contacted"
    assert run(capsys, "status", sold, "converted")[0] == 0
    assert store.get(sold).status == "converted"
    code, out, _ = run(capsys, "status", sold)                 # the history
    assert code == 0 and "sold" in out and "contacted" in out and "left a message" in out and "converted" in out

    code, _, err = run(capsys, "status", spare, "converted")
    assert code == 2 and "never delivered or sold" in err
    for bad, msg in (("sold", "leads sell"), ("delivered", "leads deliver"), ("lost", "unknown status")):
        code, _, err = run(capsys, "status", spare, bad)
        assert code == 2 and msg in err

    assert spare in all_main_ids(shop)
    assert run(capsys, "status", spare, "dead")[0] == 0        # dead: out of the buyer files, not delivered
    assert spare not in all_main_ids(shop)
    assert spare not in set(deliver(shop, POOL, dry_run=True).leads["permit_id"])
    assert run(capsys, "status", spare, "new")[0] == 0         # cleared: back in
    assert spare in all_main_ids(shop) and store.get(spare).status == "new"
    assert store.get(sold).status == "converted"
    assert store.counts()["converted"] == 1


# ----------------------------------------------------------------------------- report

def test_report_per_buyer_category_and_tier(shop, capsys):
    add_pool_buyer(capsys)
    assert run(capsys, "buyers", "add", "Roofs R Us", "--categories", "roof", "--price-a", "20", "--shared")[0] == 0
    assert run(capsys, "deliver", "--buyer", POOL)[0] == 0
    _, roof = top_lead(shop, "roof")
    assert run(capsys, "sell", roof, "--to", "Roofs R Us", "--price", "19.99")[0] == 0
    pool_a = query(shop, "SELECT count(*) FROM sales WHERE tier = 'A' AND buyer = ?", [POOL])[0][0]
    pool_b = query(shop, "SELECT count(*) FROM sales WHERE tier = 'B' AND buyer = ?", [POOL])[0][0]
    pool_rev = Decimal("25.00") * pool_a + Decimal("15.50") * pool_b

    code, out, _ = run(capsys, "report", "--format", "json")
    rep = json.loads(out)
    assert rep["leads_delivered"] == rep["deliveries"] == pool_a + pool_b
    assert rep["leads_sold"] == rep["sales"] == pool_a + pool_b + 1
    assert Decimal(rep["revenue"]) == pool_rev + Decimal("19.99")
    per_buyer = {r["buyer"]: r for r in rep["per_buyer"]}
    assert Decimal(per_buyer[POOL]["revenue"]) == pool_rev and per_buyer["Roofs R Us"]["deliveries"] == 0
    per_cat = {r["category"]: Decimal(r["revenue"]) for r in rep["per_category"]}
    assert per_cat == {"pool": pool_rev, "roof": Decimal("19.99")}
    per_tier = {r["tier"]: Decimal(r["revenue"]) for r in rep["per_tier"]}
    assert per_tier == {"A": Decimal("25.00") * pool_a + Decimal("19.99"), "B": Decimal("15.50") * pool_b}

    code, out, _ = run(capsys, "report", "--since", DAY)
    assert code == 0 and f"${pool_rev + Decimal('19.99'):,.2f}" in out and "per buyer" in out and "Roofs R Us" in out
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    code, out, _ = run(capsys, "report", "--since", tomorrow, "--until", tomorrow, "--format", "json")
    assert json.loads(out)["sales"] == 0 and json.loads(out)["revenue"] == "0.00"
    code, _, err = run(capsys, "report", "--since", tomorrow)
    assert code == 2 and "after" in err
