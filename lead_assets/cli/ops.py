"""Operations commands: `leads retry` and `leads backfill`.

Both run Dagster runs in this process against the project's instance (so the UI lists them),
one run per range of partitions (neighbouring cities x consecutive days), never one per
partition, then bring the export files up to date.
"""
from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from lead_assets.cli.args import parse_day
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings


def _label(parts: list[tuple[str, date]], limit: int = 6) -> str:
    shown = ", ".join(f"{c}|{d}" for c, d in parts[:limit])
    return shown + (f", ... ({len(parts) - limit} more)" if len(parts) > limit else "")


def _run(args, settings: Settings, parts: list[tuple[str, date]], *, retry_only: bool, command: str) -> int:
    from lead_assets.defs.runs import partition_ranges, retry_rows
    started = time.monotonic()
    if not parts:
        print("nothing to do   no partition holds RETRY rows" if retry_only else "nothing to do   no partitions selected")
        return 0
    ranges = partition_ranges(settings, parts)
    before = retry_rows(settings)
    print(f"partitions      {len(parts):>7,}  {_label(parts)}")
    print(f"RETRY rows      {sum(before.get(p, 0) for p in parts):>7,}  (before)")
    print(f"runs            {len(ranges):>7,}  (one per range of neighbouring cities x consecutive days)")
    if args.plan:
        for start, end in ranges:
            print(f"  {start} .. {end}")
        print("plan only       nothing was run (drop --plan to run it)")
        return 0
    scorer = "reasoner" if args.reasoner else None
    if scorer == "reasoner":
        from lead_assets.reasoner.config import ReasonerSettings
        ReasonerSettings.from_env().require_key()

    from lead_assets.definitions import build_defs
    from lead_assets.defs.runs import effective_scorer, project_instance, refresh_exports, score_ranges
    defs, instance = build_defs(settings), project_instance()
    summary = score_ranges(defs, settings, instance, parts, scorer=scorer, retry_only=retry_only, command=command)
    refresh_exports(defs, settings, instance, summary=summary)
    after = retry_rows(settings)
    scored = summary.metadata.get("scored_leads", [])
    # run_tier_*: the rows this command rescored (not the whole partitions' tiers)
    tiers = "  ".join(f"{t} {sum(int(m.get(k, 0) or 0) for m in scored):,}"
                      for t, k in [("A", "run_tier_a"), ("B", "run_tier_b"), ("C", "run_tier_c"),
                                   ("RETRY", "run_tier_retry")])
    print(f"rescored        {sum(int(m.get('run_rows_scored', 0) or 0) for m in scored):>7,}  {tiers}  "
          f"(scorer {effective_scorer(settings, scorer)}{', RETRY rows only' if retry_only else ''})")
    from lead_assets.reasoner.summary import model_lines
    for line in model_lines(scored):
        print(line)
    left = {p: n for p, n in after.items() if p in set(parts)}
    print(f"RETRY rows      {sum(left.values()):>7,}  (after; "
          + ("they wait for the next retry)" if left else "none left in these partitions)"))
    print(f"files written   {summary.materialized.get('lead_exports', 0):>7,}  (unchanged files keep their bytes)")
    if summary.checks_failed:
        print(f"checks failed   {', '.join(sorted(set(summary.checks_failed)))}")
    print(f"took            {time.monotonic() - started:.1f}s in {len(summary.runs)} Dagster runs")
    return 1 if summary.checks_failed else 0


def cmd_retry(args, settings: Settings) -> int:
    from lead_assets.defs.runs import failed_partitions, retry_file_partitions
    cities = settings.select_cities(args.cities)
    parts = failed_partitions(settings, cities=cities)
    if args.retry_only:
        listed = set(retry_file_partitions(settings, Path(args.retry_only)))
        parts = [p for p in parts if p in listed]
    return _run(args, settings, parts, retry_only=True, command="retry")


def cmd_backfill(args, settings: Settings) -> int:
    from lead_assets.defs.runs import days_between, failed_partitions
    yesterday = settings.today() - timedelta(days=1)
    cities = settings.select_cities(args.cities)
    since, until = args.since or settings.start_date, args.until or yesterday
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    if since < settings.start_date or until > yesterday:
        raise ConfigError(f"dates must be within {settings.start_date} .. {yesterday} (the day partitions)")
    if args.failed:
        parts = failed_partitions(settings, cities=cities, since=since, until=until)
    else:
        parts = [(c, d) for d in days_between(since, until) for c in cities]
    return _run(args, settings, parts, retry_only=args.failed, command="backfill")


def add_ops_commands(sub) -> None:
    """Register the operations subcommands on the `leads` parser."""
    p = sub.add_parser("retry", help="rescore the RETRY rows (failed scoring) of the partitions that hold them")
    p.add_argument("--reasoner", action="store_true", help="rescore with the OpenAI model instead of the rules")
    p.add_argument("--retry-only", metavar="RETRY_CSV",
                   help="only the leads of that file (e.g. exports/pending_retry/retry_queue.csv)")
    p.add_argument("--cities", nargs="+", metavar="CITY", help="default: every configured city")
    p.add_argument("--plan", action="store_true", help="print the partitions and runs; run nothing")
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("backfill", help="rescore a range of partitions (--failed: only RETRY partitions/rows)")
    p.add_argument("--failed", action="store_true",
                   help="only the partitions that hold RETRY rows, and only those rows go to the scorer")
    p.add_argument("--cities", nargs="+", metavar="CITY", help="default: every configured city")
    p.add_argument("--since", type=parse_day, help="first day (default: partitions.start_date)")
    p.add_argument("--until", type=parse_day, help="last day (default: yesterday)")
    p.add_argument("--reasoner", action="store_true", help="rescore with the OpenAI model instead of the rules")
    p.add_argument("--plan", action="store_true", help="print the partitions and runs; run nothing")
    p.set_defaults(func=cmd_backfill)
