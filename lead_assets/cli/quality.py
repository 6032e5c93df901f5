"""`leads eval` (lead quality against hand labels) and `leads vocab` (map a new city)."""
from __future__ import annotations

from pathlib import Path

from lead_assets.cli.args import parse_day
from lead_assets.config.errors import ConfigError
from lead_assets.config.settings import Settings


def _only_city(settings: Settings, city: str | None) -> str:
    if city:
        return settings.city(city).key
    if len(settings.cities) == 1:
        return next(iter(settings.cities))
    raise ConfigError(f"name the city with --city (configured: {', '.join(sorted(settings.cities))})")


def cmd_eval(args, settings: Settings) -> int:
    from lead_assets.leads.quality import evaluate
    city = _only_city(settings, args.city)
    report = evaluate(settings, city, Path(args.labels), [Path(p) for p in args.rows] if args.rows else None)
    print(f"{args.labels} against {city}'s feed (rules classifier, production SQL)")
    print(report.render(worst=args.worst))
    return 0


def cmd_vocab(args, settings: Settings) -> int:
    from lead_assets.leads.quality import vocabulary
    city = _only_city(settings, args.city)
    table = vocabulary(settings, city, since=args.since, until=args.until)
    if table.empty:
        print(f"no permits in {city}'s landing files for that period")
        return 0
    for field in ("permit_type", "work_class"):
        part = table[table["field"] == field].drop(columns="field")
        if part.empty:
            continue
        print(f"\n{field} ({len(part)} distinct values)")
        print(part.to_string(index=False, formatters={"other": "{:.0%}".format, "discarded": "{:.0%}".format}))
    return 0


def add_quality_commands(sub) -> None:
    p = sub.add_parser("eval", help="classification quality against a hand-labelled file (LABELLING.md format)")
    p.add_argument("labels", help="label CSV: permit_number,category,acceptable,is_commercial,discard,note")
    p.add_argument("--city", help="the configured city whose mapping reads the feed (default: the only one)")
    p.add_argument("--rows", nargs="+", metavar="FILE", help="source files (default: the city's landing files)")
    p.add_argument("--worst", type=int, default=8, help="how many confusions to show")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("vocab", help="a city's permit types and work classes, and what each becomes")
    p.add_argument("--city", help="default: the only configured city")
    p.add_argument("--since", type=parse_day, help="first issued day to include")
    p.add_argument("--until", type=parse_day, help="last issued day to include")
    p.set_defaults(func=cmd_vocab)
