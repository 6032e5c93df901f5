"""The `leads` command: the seed's daily workflow on top of the asset graph."""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from lead_assets.cli.args import parse_count, parse_day
from lead_assets.defs.runs import days_between
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CATEGORIES, TIERS


def _progress(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


# ---------------------------------------------------------------- score / demo

def _score(settings: Settings, cities: list[str], since: date, until: date, *, limit=None, scorer="rules",
           retry_only=False, load_properties=True, label="score", refetch=False) -> dict:
    from lead_assets.definitions import build_defs
    from lead_assets.defs.runs import RunSummary, load_properties as load_props, project_instance, \
        refresh_exports, score_partitions
    defs, instance = build_defs(settings), project_instance()
    summary = RunSummary()
    scoring = {"scorer": scorer, "limit": limit, "retry_only": retry_only}
    with _progress(len(cities) + 2, label) as bar:
        if load_properties:
            load_props(defs, instance, summary)
        bar.update(1)
        part = score_partitions(defs, settings, instance, cities, since, until, scoring=scoring,
                                progress=bar.update, refetch=refetch)
        summary.runs += part.runs
        summary.checks_failed += part.checks_failed
        for k, v in part.metadata.items():
            summary.metadata.setdefault(k, []).extend(v)
        for k, n in part.materialized.items():
            summary.materialized[k] = summary.materialized.get(k, 0) + n
        refresh_exports(defs, settings, instance, summary=summary)
        bar.update(1)
    return {"summary": summary}


def _print_summary(settings: Settings, summary, started: float, parts: list[tuple[str, date]], *,
                   exports_dir: Path | None = None) -> None:
    from lead_assets.warehouse.connection import connect, register_partitions
    exports_dir = exports_dir or settings.exports_dir
    scored = summary.metadata.get("scored_leads", [])   # one per partition, with its own counts
    files = summary.materialized.get("lead_exports", 0)
    with connect(settings.warehouse_path) as con:
        register_partitions(con, parts)
        groups = con.execute("""SELECT trade_group, count(*) FROM scored_leads JOIN parts USING (city, permit_day)
                                WHERE NOT discarded AND tier <> 'RETRY' GROUP BY 1 ORDER BY 2 DESC""").fetchall()
        loaded = con.execute("SELECT count(*) FROM raw_permits JOIN parts USING (city, permit_day)").fetchone()[0]
        quarantined = con.execute("""SELECT count(*) FROM quarantine q WHERE (q.city, q.permit_day) IN
                                     (SELECT city, permit_day FROM parts) OR (q.permit_day IS NULL AND
                                     q.city IN (SELECT city FROM parts))""").fetchone()[0]
    print(f"permits in      {loaded + quarantined:>7,}  ({loaded:,} loaded, {quarantined:,} quarantined)")
    print(f"leads scored    {sum(m.get('run_rows_scored', 0) for m in scored):>7,}  "
          + "  ".join(f"{t} {sum(m.get(k, 0) for m in scored):,}" for t, k in
                      [("A", "tier_a"), ("B", "tier_b"), ("C", "tier_c"), ("RETRY", "retry")])
          + f"  | discarded {sum(m.get('discarded', 0) for m in scored):,}"
          + f"  needs review {sum(m.get('needs_review', 0) for m in scored):,}")
    from lead_assets.reasoner.summary import model_lines
    for line in model_lines(scored):
        print(line)
    print("by trade group  " + ", ".join(f"{g} {n:,}" for g, n in groups))
    print(f"files written   {files:>7,}  (unchanged files keep their bytes)")
    if summary.checks_failed:
        print(f"checks failed   {', '.join(sorted(set(summary.checks_failed)))}")
    print(f"exports         {exports_dir}")
    print(f"took            {time.monotonic() - started:.1f}s in {len(summary.runs)} Dagster runs")
    print("open the UI     make ui   (then http://127.0.0.1:3000)")


def cmd_demo(args, settings: Settings) -> int:
    from lead_assets.demo.feeds import generate_demo, set_partition_start
    started = time.monotonic()
    end = args.end_date or settings.today() - timedelta(days=1)
    if settings.landing_dir.parent != settings.appraisal_dir.parent:
        raise ConfigError("the demo writes landing/ and cad/ side by side; set both paths under one folder")
    root = settings.landing_dir.parent
    counts = generate_demo(root, end, days=args.days)
    print(f"demo data       {counts['permit_rows']:,} permit rows in {counts['files']} files, "
          f"{counts['property_rows']:,} properties, {counts['start_date']} .. {end}  -> {root}")
    # The day partitions start on the demo's first day: none is left "missing" in the UI.
    set_partition_start(settings.config_path, counts["start_date"])
    settings = dataclasses.replace(settings, start_date=counts["start_date"])
    print(f"partitions from {counts['start_date']}  ({settings.config_path.name} [partitions] start_date)")
    result = _score(settings, list(settings.cities), counts["start_date"], end, label="demo")
    _print_summary(settings, result["summary"], started,
                   [(c, d) for c in settings.cities for d in days_between(counts["start_date"], end)])
    return 0


def _retry_file_selection(settings: Settings, path: Path) -> tuple[list[str], date, date]:
    import csv
    if not path.exists():
        raise ConfigError(f"retry file not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ConfigError(f"{path} holds no leads to retry")
    names = {c.name.lower(): c.key for c in settings.cities.values()}
    cities = sorted({names.get(r["city"].lower(), r["city"].lower()) for r in rows})
    for c in cities:
        settings.city(c)
    today = settings.today()
    days = [today - timedelta(days=int(r["days_old"])) for r in rows if r.get("days_old", "").lstrip("-").isdigit()]
    return cities, min(days, default=settings.start_date), max(days, default=today - timedelta(days=1))


def cmd_score(args, settings: Settings) -> int:
    started = time.monotonic()
    yesterday = settings.today() - timedelta(days=1)
    cities = settings.select_cities(args.cities)
    since, until = args.since or yesterday, args.until or args.since or yesterday
    retry_only = False
    if args.retry_only:
        cities, since, until = _retry_file_selection(settings, Path(args.retry_only))
        retry_only = True
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    if since < settings.start_date or until > yesterday:
        raise ConfigError(f"dates must be within {settings.start_date} .. {yesterday} (the day partitions)")
    scorer = "reasoner" if args.reasoner else "rules"
    if scorer == "reasoner":
        from lead_assets.reasoner.config import ReasonerSettings
        ReasonerSettings.from_env().require_key()
    if args.dry_run:
        return _dry_run(settings, cities, since, until, args.limit, scorer, retry_only, started)
    result = _score(settings, cities, since, until, limit=args.limit, scorer=scorer, retry_only=retry_only,
                    refetch=args.refetch)
    _print_summary(settings, result["summary"], started, [(c, d) for c in cities for d in days_between(since, until)])
    return 0


def _dry_run(settings, cities, since, until, limit, scorer, retry_only, started) -> int:
    """Score a copy of the warehouse into a scratch folder; the real ones are not touched."""
    from dataclasses import replace

    from lead_assets.sources.appraisal import load_property_records
    from lead_assets.exports.files import write_buyer_files, write_queue_file
    from lead_assets.sources.ingest import ingest
    from lead_assets.defs.runs import days_between
    from lead_assets.leads.scoring import score
    from lead_assets.warehouse.connection import connect

    scratch = Path(tempfile.mkdtemp(prefix="leads-dry-run-"))
    copy = scratch / "warehouse.duckdb"
    if settings.warehouse_path.exists():
        with connect(settings.warehouse_path):
            shutil.copy2(settings.warehouse_path, copy)
    dry = replace(settings, warehouse_path=copy, exports_dir=scratch / "exports")
    parts = [(c, d) for c in cities for d in days_between(since, until)]
    load_property_records(dry)
    loaded = ingest(dry, parts)
    scorer_fn = None
    if scorer == "reasoner":
        from lead_assets.reasoner.scorer import build_scorer
        scorer_fn = build_scorer(dry)
    report = score(dry, parts, scorer=scorer_fn, limit=limit, retry_only=retry_only)
    files = write_buyer_files(dry)
    write_queue_file(dry, "review")
    write_queue_file(dry, "retry")
    print(f"dry run         {len(parts)} partitions, {loaded.source_rows:,} permits in, "
          f"{loaded.rows_quarantined:,} quarantined")
    print(f"leads scored    {report.scored:>7,}  " + "  ".join(
        f"{t} {report.per_tier.get(t, 0):,}" for t in ("A", "B", "C", "RETRY")))
    from lead_assets.reasoner.summary import model_lines
    for line in model_lines([report.extra]):
        print(line)
    print(f"files written   {len(files.written):>7,}")
    print(f"scratch         {scratch}  (warehouse and exports/ unchanged)")
    print(f"took            {time.monotonic() - started:.1f}s")
    return 0


# ---------------------------------------------------------------- list

def cmd_list(args, settings: Settings) -> int:
    from lead_assets.warehouse.store import LeadStore
    frame = LeadStore(settings).filter(category=args.category, tier=args.tier, status=args.status,
                                       city=args.city, limit=args.limit, as_frame=True)
    if args.format == "csv":
        from lead_assets.exports.files import neutralize
        # Opened in a spreadsheet like an export file: the same formula neutralization.
        neutralize(frame, list(frame.select_dtypes(include=["object", "string"]).columns)).to_csv(
            sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=1) + "\n")
    else:
        if frame.empty:
            print("no leads match")
            return 0
        cols = ["permit_id", "city", "category", "tier", "score", "status", "owner_name", "property_address",
                "other_permits"]
        show = frame[cols].copy()
        show["other_permits"] = show["other_permits"].fillna("")
        show["owner_name"] = show["owner_name"].fillna("").str.slice(0, 28)
        show["property_address"] = show["property_address"].fillna("").str.slice(0, 32)
        print(show.to_string(index=False))
        print(f"{len(frame)} lead(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leads", description="Building permits -> scored, tiered lead files.")
    parser.add_argument("--config", help="leads.toml to use (default: LEADS_CONFIG or the project's)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate the demo data and run the whole graph on it")
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--end-date", type=parse_day, help="last demo day (default: yesterday)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("score", help="(re)score city x day partitions and refresh the export files")
    p.add_argument("--cities", nargs="+", metavar="CITY", help="default: every configured city")
    p.add_argument("--since", type=parse_day, help="first day (default: yesterday)")
    p.add_argument("--until", type=parse_day, help="last day (default: --since)")
    p.add_argument("--limit", type=parse_count, help="score at most N permits")
    p.add_argument("--reasoner", action="store_true", help="score with the OpenAI model instead of the rules")
    p.add_argument("--dry-run", action="store_true", help="write CSVs to a scratch folder; change nothing")
    p.add_argument("--retry-only", metavar="RETRY_CSV", help="rescore only the RETRY rows of that file's partitions")
    p.add_argument("--refetch", action="store_true",
                   help="pull portal (Socrata / ArcGIS) days again even if already fetched")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("list", help="show leads from the warehouse")
    p.add_argument("--category", choices=CATEGORIES)
    p.add_argument("--tier", choices=[*TIERS, "RETRY"], type=str.upper)
    p.add_argument("--status", help="new, delivered, sold, contacted, converted, dead")
    p.add_argument("--city")
    p.add_argument("--limit", type=parse_count, default=50)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_list)

    from lead_assets.cli.sales import add_sales_commands  # review, sell, deliver, archive, report, ...
    add_sales_commands(sub)
    from lead_assets.cli.ops import add_ops_commands      # retry, backfill
    add_ops_commands(sub)
    from lead_assets.cli.quality import add_quality_commands  # eval, vocab
    add_quality_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(args.config)
        return args.func(args, settings)
    except ConfigError as exc:
        print(f"leads: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a run that failed inside Dagster: show the cause, in one line
        cause = getattr(exc, "user_exception", None)
        if isinstance(cause, ConfigError):
            print(f"leads: error: {cause}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
