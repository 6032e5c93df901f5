"""Sales lifecycle commands (review, sell, deliver, archive, report, status, buyers).

The logic is in lead_assets/sales/; these print what happened. Every command that changes
something refreshes the main buyer files and the review queue, and (unless
LEADS_DAGSTER_EVENTS=0) reports the new sales figures to Dagster as a `lead_sales`
materialization, so the UI is current without a run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from lead_assets.cli.args import parse_day
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CATEGORIES, TIERS, TRADE_GROUPS


def _dagster_event(settings: Settings) -> None:
    """Best effort: the sale is already committed, so a Dagster problem only warns."""
    if os.environ.get("LEADS_DAGSTER_EVENTS", "1").lower() in ("0", "false", "no", "off"):
        return
    try:
        from lead_assets.defs.assets.sales import report_sales_event
        from lead_assets.defs.runs import project_instance
        instance = project_instance()
        try:
            report_sales_event(instance, settings)
        finally:
            instance.dispose()
    except Exception as exc:  # noqa: BLE001 - never fail a recorded change over the UI
        print(f"leads: warning: could not report the sales figures to Dagster ({exc})", file=sys.stderr)


def _print_frame(frame, fmt: str, empty: str) -> None:
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=1) + "\n")
    elif frame.empty:
        print(empty)
    else:
        print(frame.to_string(index=False))


# ------------------------------------------------------------------------------ review

def cmd_review(args, settings: Settings) -> int:
    from lead_assets.sales.leads import review, review_queue
    if args.action == "list":
        queue = review_queue(settings)
        _print_frame(queue[["permit_id", "city", "category", "tier", "score", "review_reasons"]]
                     if args.format == "table" and not queue.empty else queue, args.format,
                     "the review queue is empty")
        if args.format == "table" and not queue.empty:
            print(f"{len(queue)} lead(s) in review")
        return 0
    lead = review(settings, args.permit_id, args.action, city=args.city, note=args.note)
    verb = "approved: it goes into the buyer files" if args.action == "approve" else \
        "rejected: it never goes to a buyer"
    print(f"{lead.label} {verb}; flagged/needs_review.csv and the buyer files are refreshed")
    _dagster_event(settings)
    return 0


# ------------------------------------------------------------------------------ buyers

def _buyer_options(p: argparse.ArgumentParser, *, update: bool) -> None:
    default = argparse.SUPPRESS if update else None
    p.add_argument("--contact", default=default, help="email / phone / person")
    p.add_argument("--trade-groups", nargs="*", choices=list(TRADE_GROUPS), default=default, metavar="GROUP",
                   help="trade groups taken (every category in them): " + ", ".join(TRADE_GROUPS))
    p.add_argument("--categories", nargs="*", choices=list(CATEGORIES), default=default, metavar="CATEGORY",
                   help="single categories taken (pool, roof, ...)")
    p.add_argument("--tiers", nargs="*", type=str.upper, choices=list(TIERS), default=default, metavar="TIER",
                   help="tiers taken (default: the tiers given a price)")
    p.add_argument("--cities", nargs="*", default=default, metavar="CITY", help="cities taken (default: all)")
    for t in "abc":
        p.add_argument(f"--price-{t}", default=default, metavar="USD",
                       help=f"price per tier {t.upper()} lead, e.g. 25.00 (0: delivered free, no sale)")
    share = p.add_mutually_exclusive_group()
    share.add_argument("--exclusive", dest="exclusive", action="store_true", default=default,
                       help="its leads go to nobody else (the default)")
    share.add_argument("--shared", dest="exclusive", action="store_false", default=default,
                       help="its leads may also go to other shared buyers")
    p.add_argument("--max-buyers", type=int, default=default, metavar="N",
                   help="shared buyers: at most N buyers per lead (default 3); implies --shared")


def cmd_buyers(args, settings: Settings) -> int:
    from lead_assets.sales.buyers import add_buyer, list_buyers, remove_buyer, update_buyer
    from lead_assets.sales.money import money
    if args.action == "list":
        import pandas as pd
        rows = [b.describe() for b in list_buyers(settings)]
        frame = pd.DataFrame(rows)
        if args.format == "table" and not frame.empty:
            for col in ("trade_groups", "categories", "tiers", "cities"):
                frame[col] = frame[col].map(lambda v: " ".join(v) or "-")
            for col in ("price_a", "price_b", "price_c"):
                frame[col] = frame[col].map(money)
            frame = frame.drop(columns=["slug"]).fillna("-")
        _print_frame(frame, args.format, "no buyers yet: leads buyers add NAME --categories pool --price-a 25")
        return 0
    if args.action == "remove":
        remove_buyer(settings, args.name)
        print(f"buyer {args.name!r} removed")
        return 0
    opts = {k: getattr(args, k) for k in ("contact", "trade_groups", "categories", "tiers", "cities", "price_a",
                                          "price_b", "price_c", "exclusive", "max_buyers") if hasattr(args, k)}
    if args.action == "add":
        if opts["exclusive"] is None:          # --max-buyers alone means shared
            opts["exclusive"] = opts["max_buyers"] is None
        buyer = add_buyer(settings, args.name, **{k: v for k, v in opts.items() if v is not None})
        verb = "added"
    else:
        buyer = update_buyer(settings, args.name, **opts)
        verb = "updated"
    d = buyer.describe()
    prices = ", ".join(f"{t} {money(buyer.price(t))}" for t in buyer.tiers)
    print(f"buyer {buyer.name!r} {verb}: {' '.join(d['trade_groups'] + d['categories'])} | tiers {prices} | "
          f"cities {' '.join(d['cities'])} | {d['sharing']} | folder _delivered/<day>/{buyer.slug}/")
    return 0


# -------------------------------------------------------------------------------- sell

def cmd_sell(args, settings: Settings) -> int:
    from lead_assets.sales.money import money
    from lead_assets.sales.selling import sell
    sale = sell(settings, args.permit_id, args.to, args.price, city=args.city, note=args.note)
    print(f"sold {sale.permit_id} ({sale.city}, {sale.category} tier {sale.tier}) to {sale.buyer} "
          f"for {money(sale.price)}")
    if sale.outside_terms:
        print(f"note: {sale.buyer}'s buyer record does not list this category/tier/city")
    _dagster_event(settings)
    return 0


# ----------------------------------------------------------------------------- deliver

def _print_plan(plan, settings: Settings, dry_run: bool) -> None:
    from lead_assets.sales.money import money
    b = plan.buyer
    rel = plan.folder.relative_to(settings.exports_dir.resolve())
    if plan.leads.empty:
        extra = f" ({plan.held_elsewhere} matching lead(s) are held by other buyers)" if plan.held_elsewhere else ""
        print(f"{b.name}: nothing new to deliver{extra}")
        return
    head = "would deliver" if dry_run else "delivered"
    print(f"{b.name}: {head} {len(plan.leads)} lead(s) in {len(plan.files)} file(s) -> exports/{rel}/")
    for key, n in plan.per_file().items():
        print(f"  {key + '.csv':<44}{n:>6}")
    if plan.held_elsewhere:
        print(f"  ({plan.held_elsewhere} matching lead(s) left out: held by other buyers)")
    sale = "would be sold" if dry_run else "sold"
    print(f"  {plan.sold} {sale} for {money(plan.total)}"
          + (f"; {len(plan.leads) - plan.sold} free (tier priced 0)" if plan.sold < len(plan.leads) else ""))


def cmd_deliver(args, settings: Settings) -> int:
    from lead_assets.sales.buyers import list_buyers
    from lead_assets.sales.deliveries import deliver
    names = [b.name for b in list_buyers(settings)] if args.all else [args.buyer]
    if args.all and not names:
        from lead_assets.sales.errors import SalesError
        raise SalesError("no buyers yet; add one with `leads buyers add`")
    changed = False
    for name in names:
        plan = deliver(settings, name, dry_run=args.dry_run, limit=args.limit)
        _print_plan(plan, settings, args.dry_run)
        changed |= plan.recorded
    if args.dry_run:
        print("dry run: nothing written or recorded")
    if changed:
        _dagster_event(settings)
    return 0


# ----------------------------------------------------------------------------- archive

def cmd_archive(args, settings: Settings) -> int:
    from lead_assets.sales.archive import archive
    from lead_assets.sales.money import money
    plan = archive(settings, args.files or None, buyer=args.buyer, sell=args.sell, dry_run=args.dry_run)
    if not plan.files:
        print("no delivered buyer files to archive (they are empty, or no buyer takes them)")
        return 0
    root = f"exports/_delivered/{plan.day}"
    for f in plan.files:
        extra = f", {f.already} already recorded" if f.already else ""
        sold = f", {f.sold} sold for {money(f.revenue)}" if f.sold else ""
        print(f"{f.key}.csv -> {f.buyer}: {f.recorded} lead(s) delivered{extra}{sold}")
    if args.dry_run:
        print(f"dry run: would move {len(plan.files)} file(s) to {root}/; nothing written or recorded")
    elif not plan.recorded:
        print("nothing new to archive: the buyers already had every lead in these files")
    else:
        print(f"archived {len(plan.files)} file(s) to {root}/<buyer>/; {plan.deliveries} deliveries recorded; "
              "the buyer files are rewritten without them")
        if plan.recorded:
            _dagster_event(settings)
    return 0


# ------------------------------------------------------------------------------ status

def cmd_status(args, settings: Settings) -> int:
    from lead_assets.sales.leads import lead_history, set_status
    from lead_assets.warehouse.store import LeadStore
    if args.status:
        lead = set_status(settings, args.permit_id, args.status, city=args.city, note=args.note)
        print(f"{lead.label}: status {args.status if args.status != 'new' else 'cleared'}")
        _dagster_event(settings)
    history = lead_history(settings, args.permit_id, city=args.city)
    ref = history["lead"]
    lead = LeadStore(settings).get(ref.permit_id, ref.city)
    print(f"{lead.permit_id} ({lead.city})  {lead.category} tier {lead.tier} score {lead.score}  "
          f"status {lead.status}")
    for at, what, detail, note in history["events"]:
        print(f"  {at:%Y-%m-%d %H:%M}  {what:<9} {detail}" + (f"  ({note})" if note else ""))
    return 0


# ------------------------------------------------------------------------------ report

def cmd_report(args, settings: Settings) -> int:
    from lead_assets.sales.money import money
    from lead_assets.sales.report import report
    rep = report(settings, since=args.since, until=args.until)
    if args.format == "json":
        print(json.dumps(rep.as_dict(), indent=1))
        return 0
    span = f"{rep.since} .. {rep.until}" if rep.since else f"all time to {rep.until}"
    print(f"sales report    {span}")
    print(f"delivered       {rep.leads_delivered:>7,} lead(s)  ({rep.deliveries:,} deliveries)")
    print(f"sold            {rep.leads_sold:>7,} lead(s)  ({rep.sales:,} sales)")
    print(f"revenue         {money(rep.revenue):>12}")
    for title, frame in (("per buyer", rep.per_buyer), ("per category", rep.per_category),
                         ("per tier", rep.per_tier)):
        if frame.empty:
            continue
        show = frame.copy()
        show["revenue"] = show["revenue"].map(money)
        print(f"\n{title}")
        print(show.to_string(index=False))
    return 0


# ---------------------------------------------------------------------------- register

def add_sales_commands(sub) -> None:
    """Register the sales subcommands on the `leads` parser."""
    p = sub.add_parser("review", help="the QA queue: list, approve or reject flagged leads")
    rs = p.add_subparsers(dest="action", required=True)
    q = rs.add_parser("list", help="leads waiting in flagged/needs_review.csv")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    for action, text in (("approve", "the lead enters the next buyer files"), ("reject", "it never goes out")):
        q = rs.add_parser(action, help=text)
        q.add_argument("permit_id", metavar="PERMIT_ID")
        q.add_argument("--city", help="needed when the permit id is used in several cities")
        q.add_argument("--note")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("buyers", help="buyers: who takes which leads at what price")
    bs = p.add_subparsers(dest="action", required=True)
    q = bs.add_parser("add", help="register a buyer")
    q.add_argument("name", metavar="NAME")
    _buyer_options(q, update=False)
    q = bs.add_parser("update", help="change a buyer (only the options given)")
    q.add_argument("name", metavar="NAME")
    _buyer_options(q, update=True)
    q = bs.add_parser("list", help="show the buyers")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q = bs.add_parser("remove", help="remove a buyer that has no deliveries or sales")
    q.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_buyers)

    p = sub.add_parser("sell", help="record a sale made by hand")
    p.add_argument("permit_id", metavar="PERMIT_ID")
    p.add_argument("--to", required=True, metavar="BUYER")
    p.add_argument("--price", metavar="USD", help="e.g. 25.00 (default: the buyer's price for the tier)")
    p.add_argument("--city", help="needed when the permit id is used in several cities")
    p.add_argument("--note")
    p.set_defaults(func=cmd_sell)

    p = sub.add_parser("deliver", help="write a buyer's package to exports/_delivered/<today>/ and record the sales")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--buyer", metavar="NAME")
    who.add_argument("--all", action="store_true", help="every buyer, in the order they were added")
    p.add_argument("--limit", type=int, metavar="N", help="at most N leads (best first)")
    p.add_argument("--dry-run", action="store_true", help="show what would go; write and record nothing")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("archive", help="buyer files sent by hand today: move them to exports/_delivered/<today>/ "
                                       "and mark their leads delivered")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="buyer files, e.g. luxury_outdoor/pool/tier_a.csv (default: every file a buyer takes)")
    p.add_argument("--buyer", metavar="NAME", help="who got them (default: the buyers whose terms cover each file)")
    p.add_argument("--sell", action="store_true", help="also record a sale per lead at the buyer's price")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("status", help="show a lead's history, or set contacted / converted / dead (new clears)")
    p.add_argument("permit_id", metavar="PERMIT_ID")
    p.add_argument("status", nargs="?", metavar="STATUS", help="contacted, converted, dead, or new (clears it)")
    p.add_argument("--city", help="needed when the permit id is used in several cities")
    p.add_argument("--note")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="leads delivered and sold, revenue per buyer, category and tier")
    p.add_argument("--since", type=parse_day, help="first day (default: all time)")
    p.add_argument("--until", type=parse_day, help="last day (default: today)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_report)
