"""Lead quality against hand labels (`leads eval`) and a city's vocabulary (`leads vocab`).

`evaluate` runs the production path (the city's column mapping, ingest, the classifier's
SQL, the rules scorer) over a label file's permits in a scratch warehouse, then compares
with the labels (format: shared/LABELLING.md). Nothing of the project's warehouse or
exports is touched.
"""
from __future__ import annotations

import csv
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from lead_assets.config.errors import ConfigError

from lead_assets.config.settings import Settings
from lead_assets.leads.taxonomy import CATEGORIES

LABEL_COLUMNS = ("permit_number", "category", "acceptable", "is_commercial", "discard", "note")


def load_labels(path: Path) -> pd.DataFrame:
    """A label file, checked: the columns, known categories, true/false, one row per permit."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ConfigError(f"label file not found: {path}") from None
    missing = [c for c in LABEL_COLUMNS[:5] if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(LABEL_COLUMNS)})")
    for i, row in frame.iterrows():
        line = i + 2
        for cat in [row["category"], *filter(None, row["acceptable"].split("|"))]:
            if cat.strip() not in CATEGORIES:
                raise ConfigError(f"{path}:{line}: unknown category {cat!r}")
        if row["is_commercial"].strip().lower() not in ("true", "false"):
            raise ConfigError(f"{path}:{line}: is_commercial must be true or false, not {row['is_commercial']!r}")
    dupes = frame["permit_number"][frame["permit_number"].duplicated()].tolist()
    if dupes:
        raise ConfigError(f"{path}: permit(s) labelled twice: {', '.join(dupes[:5])}")
    frame["permit_number"] = frame["permit_number"].str.strip()
    frame["is_commercial"] = frame["is_commercial"].str.strip().str.lower() == "true"
    frame["discard"] = frame["discard"].str.strip()
    return frame


@dataclass
class EvalReport:
    labelled: int
    found: int
    category_correct: int
    discard_tp: int
    discard_fp: int
    discard_fn: int
    commercial_tp: int
    commercial_fp: int
    commercial_fn: int
    confusions: list[tuple[str, str, int, list[str]]] = field(default_factory=list)  # label, predicted, n, examples
    discard_misses: list[tuple[str, str, str]] = field(default_factory=list)          # permit, labelled, predicted
    missing: list[str] = field(default_factory=list)

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    @property
    def category_accuracy(self) -> float:
        return self._ratio(self.category_correct, self.found)

    @property
    def discard_precision(self) -> float:
        return self._ratio(self.discard_tp, self.discard_tp + self.discard_fp)

    @property
    def discard_recall(self) -> float:
        return self._ratio(self.discard_tp, self.discard_tp + self.discard_fn)

    @property
    def commercial_precision(self) -> float:
        return self._ratio(self.commercial_tp, self.commercial_tp + self.commercial_fp)

    @property
    def commercial_recall(self) -> float:
        return self._ratio(self.commercial_tp, self.commercial_tp + self.commercial_fn)

    @property
    def commercial_f1(self) -> float:
        p, r = self.commercial_precision, self.commercial_recall
        return 2 * p * r / (p + r) if p + r else float("nan")

    def figures(self) -> dict[str, float]:
        return {"category": self.category_accuracy, "discard_precision": self.discard_precision,
                "discard_recall": self.discard_recall, "commercial_precision": self.commercial_precision,
                "commercial_recall": self.commercial_recall, "commercial_f1": self.commercial_f1}

    def render(self, worst: int = 8) -> str:
        lines = [f"{self.found} of {self.labelled} labelled permits found in the feed"
                 + (f" (missing: {', '.join(self.missing[:5])}{' ...' if len(self.missing) > 5 else ''})"
                    if self.missing else ""),
                 f"category correct   {self.category_accuracy:6.1%}  ({self.category_correct}/{self.found})",
                 f"discard            precision {self.discard_precision:.2f}  recall {self.discard_recall:.2f}"
                 f"  ({self.discard_tp} right, {self.discard_fp} wrongly discarded, {self.discard_fn} junk kept)",
                 f"commercial         precision {self.commercial_precision:.2f}  recall {self.commercial_recall:.2f}"
                 f"  F1 {self.commercial_f1:.2f}"]
        if self.confusions:
            lines.append("worst confusions (labelled -> predicted, count, examples):")
            for label, pred, n, examples in self.confusions[:worst]:
                lines.append(f"  {label} -> {pred}  {n}  " + "; ".join(examples))
        if self.discard_misses:
            lines.append("discard disagreements (permit: labelled / predicted):")
            for permit, want, got in self.discard_misses[:worst]:
                lines.append(f"  {permit}: {want or 'lead'} / {got or 'lead'}")
        return "\n".join(lines)


def compare(labels: pd.DataFrame, predicted: pd.DataFrame) -> EvalReport:
    """Labels vs predictions (columns permit_id, category, discard_reason, commercial, description)."""
    pred = predicted.drop_duplicates("permit_id").set_index("permit_id")
    found = labels[labels["permit_number"].isin(pred.index)]
    missing = labels.loc[~labels["permit_number"].isin(pred.index), "permit_number"].tolist()
    correct = 0
    confusion: dict[tuple[str, str], list[str]] = {}
    d_tp = d_fp = d_fn = c_tp = c_fp = c_fn = 0
    discard_misses = []
    for row in found.itertuples():
        p = pred.loc[row.permit_number]
        ok = {row.category, *filter(None, (a.strip() for a in row.acceptable.split("|")))}
        if p["category"] in ok:
            correct += 1
        else:
            text = str(p.get("description") or "")[:60]
            confusion.setdefault((row.category, p["category"]), []).append(f"{row.permit_number} {text!r}")
        got_reason = p["discard_reason"] if isinstance(p["discard_reason"], str) else ""
        want_discard, got_discard = bool(row.discard), bool(got_reason)
        d_tp += want_discard and got_discard
        d_fp += got_discard and not want_discard
        d_fn += want_discard and not got_discard
        if want_discard != got_discard:
            discard_misses.append((row.permit_number, row.discard, got_reason))
        got_com = bool(p["commercial"])
        c_tp += row.is_commercial and got_com
        c_fp += got_com and not row.is_commercial
        c_fn += row.is_commercial and not got_com
    confusions = sorted(((lab, prd, len(ex), ex[:3]) for (lab, prd), ex in confusion.items()),
                        key=lambda c: (-c[2], c[0], c[1]))
    return EvalReport(len(labels), len(found), correct, d_tp, d_fp, d_fn, c_tp, c_fp, c_fn,
                      confusions, discard_misses, missing)


def scratch_settings(settings: Settings, city: str, workdir: Path, rows: list[Path] | None) -> Settings:
    """The city alone, in a scratch warehouse; every day of its feed is a partition."""
    # Labels are per permit (LABELLING.md): classify each permit, not each project.
    source = dataclasses.replace(settings.city(city), projects=None)
    landing = settings.landing_dir
    if rows:
        landing = workdir / "landing"
        (landing / "rows").mkdir(parents=True)
        for i, path in enumerate(rows):
            if not path.is_file():
                raise ConfigError(f"rows file not found: {path}")
            shutil.copy(path, landing / "rows" / f"{i:04d}-{path.name}")
        source = dataclasses.replace(source, landing="rows/*")
    return dataclasses.replace(
        settings, warehouse_path=workdir / "eval.duckdb", landing_dir=landing, exports_dir=workdir / "exports",
        cities={source.key: source}, start_date=date(1990, 1, 1), today_override=date.today() + timedelta(days=1))


def predict(settings: Settings, city: str, rows: list[Path] | None = None) -> pd.DataFrame:
    """Ingest and score the city's feed with the production SQL; one row per permit."""
    from lead_assets.sources.ingest import ingest
    from lead_assets.leads.scoring import score
    from lead_assets.warehouse.connection import connect

    with tempfile.TemporaryDirectory(prefix="leads-eval-") as tmp:
        scratch = scratch_settings(settings, city, Path(tmp), rows)
        key = scratch.city(city).key
        days = [scratch.start_date + timedelta(days=i)
                for i in range((scratch.today() - scratch.start_date).days)]
        ingest(scratch, [(key, d) for d in days])
        with connect(scratch.warehouse_path) as con:
            loaded = [d for (d,) in con.execute("SELECT DISTINCT permit_day FROM raw_permits ORDER BY 1").fetchall()]
        score(scratch, [(key, d) for d in loaded])
        with connect(scratch.warehouse_path) as con:
            return con.execute("""
                SELECT s.permit_id, s.permit_day, s.category,
                       nullif(regexp_extract(s.flags, 'discarded:([a-z_]+)', 1), '') AS discard_reason,
                       coalesce(list_contains(string_split(s.flags, '|'), 'commercial'), false) AS commercial,
                       s.project_description AS description, r.permit_type, r.work_class
                FROM scored_leads s JOIN raw_permits r ON r.city = s.city AND r.permit_num = s.permit_id
            """).df()


def vocabulary(settings: Settings, city: str, since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """Each distinct permit type and work class of the city's feed: permits, what the rules
    make of them (top categories), and the shares left in `other` and discarded."""
    pred = predict(settings, city)
    if since:
        pred = pred[pred["permit_day"].dt.date >= since]
    if until:
        pred = pred[pred["permit_day"].dt.date <= until]
    out = []
    for fld in ("permit_type", "work_class"):
        for value, grp in pred.groupby(pred[fld].fillna("(none)")):
            live = grp[grp["discard_reason"].isna()]
            top = live["category"].value_counts()
            out.append({"field": fld, "value": value, "permits": len(grp),
                        "becomes": ", ".join(f"{c} {n}" for c, n in top.head(3).items()) or "-",
                        "other": (live["category"] == "other").mean() if len(live) else 0.0,
                        "discarded": grp["discard_reason"].notna().mean()})
    frame = pd.DataFrame(out, columns=["field", "value", "permits", "becomes", "other", "discarded"])
    return frame.sort_values(["field", "permits", "value"], ascending=[True, False, True]).reset_index(drop=True)


def evaluate(settings: Settings, city: str, labels_path: Path, rows: list[Path] | None = None) -> EvalReport:
    labels = load_labels(labels_path)
    return compare(labels, predict(settings, city, rows))


def write_labels(path: Path, rows: list[dict]) -> None:
    """A label file in the LABELLING.md column order (used by tests and labelling helpers)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in LABEL_COLUMNS})
