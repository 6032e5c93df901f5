"""Appraisal-district (CAD) exports -> `property_records`, keyed by normalized address."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lead_assets.sources.addresses import install_macros, key_addresses
from lead_assets.config.fields import PROPERTY_FIELDS
from lead_assets.config.settings import Settings
from lead_assets.sources.landing import CsvFile, csv_shape, decode, parse_csv, read_csv_into
from lead_assets.sources.readers import quote_name
from lead_assets.warehouse.connection import connect, retry_conflicts, transaction


@dataclass
class AppraisalReport:
    files: int
    records: int
    owners_missing: int
    absentee: int


@retry_conflicts
def load_property_records(settings: Settings) -> AppraisalReport:
    files = sorted(p for p in settings.appraisal_dir.glob(settings.appraisal.files) if p.is_file())
    with connect(settings.warehouse_path) as con:
        install_macros(con)
        con.execute("CREATE OR REPLACE TEMP TABLE cad ("
                    + ", ".join(f"{f} VARCHAR" for f in (*PROPERTY_FIELDS, "source_file")) + ", source_line BIGINT)")
        for path in files:    # outside the transaction: a file DuckDB gives up on is read again
            _stage(con, settings.appraisal.columns, path)
        with transaction(con):
            records, owners_missing, absentee = _replace(con)
    return AppraisalReport(len(files), records, owners_missing, absentee)


def _replace(con) -> tuple[int, int, int]:
    """property_records := the staged rows of temp table `cad`, typed and keyed; returns
    (records, owners missing, absentee owners)."""
    key_addresses(con, "cad_keys", "SELECT situs_address AS address FROM cad UNION ALL "
                                   "SELECT mail_address FROM cad WHERE mail_address IS DISTINCT FROM situs_address")
    con.execute("DELETE FROM property_records")
    con.execute("""
        INSERT INTO property_records BY NAME
        -- Most owners live at the property: their mail address is keyed once, as the situs.
        SELECT * EXCLUDE (same_mail, mail_street_key),
               CASE WHEN same_mail THEN address_key ELSE mail_street_key END AS mail_key
        FROM (
        SELECT nullif(trim(prop_id), '') AS prop_id,
               nullif(trim(situs_address), '') AS situs_address,
               nullif(trim(situs_city), '') AS situs_city, nullif(trim(situs_zip), '') AS situs_zip,
               nullif(trim(owner_name), '') AS owner_name, nullif(trim(mail_address), '') AS mail_address,
               nullif(trim(mail_city), '') AS mail_city, nullif(trim(mail_state), '') AS mail_state,
               nullif(trim(mail_zip), '') AS mail_zip,
               TRY_CAST(regexp_replace(market_value, '[$,\\s]', '', 'g') AS DECIMAL(14, 2)) AS market_value,
               CASE upper(trim(coalesce(homestead, ''))) WHEN 'Y' THEN true WHEN 'YES' THEN true
                    WHEN 'TRUE' THEN true WHEN '1' THEN true WHEN 'N' THEN false WHEN 'NO' THEN false
                    WHEN 'FALSE' THEN false WHEN '0' THEN false END AS homestead,
               s.street_key AS address_key, city_key(situs_city) AS city_key,
               mail_address IS NOT DISTINCT FROM situs_address AS same_mail, m.street_key AS mail_street_key,
               source_file
        FROM cad LEFT JOIN cad_keys s ON s.address = cad.situs_address
                 LEFT JOIN cad_keys m ON m.address = cad.mail_address)
    """)
    return con.execute("""
        SELECT count(*), count(*) FILTER (WHERE owner_name IS NULL),
               count(*) FILTER (WHERE mail_key IS NOT NULL AND mail_key <> address_key)
        FROM property_records""").fetchone()


def _stage(con, cols: dict[str, str], path: Path) -> None:
    """One appraisal export into temp table `cad`: by DuckDB's reader when the file is plain
    (see landing.csv_shape) and every row reads cleanly, else by Python's csv (rows that do not
    split into the header's width are left out, as before)."""
    data = path.read_bytes()
    text, recoded = decode(data)
    shape = None if recoded else csv_shape(path, data)
    parsed = None if shape else parse_csv(text)
    header = shape[0] if shape else parsed[0]
    missing = [cols[f] for f in ("prop_id", "situs_address", "situs_city") if cols[f] not in header]
    if missing:
        raise ValueError(f"{path.name}: missing required column {', '.join(map(repr, missing))} "
                         "(appraisal export, see [appraisal.columns] in leads.toml)")
    mapped = ", ".join(f"{quote_name(cols[f])} AS {f}" if cols.get(f) in header else f"NULL AS {f}"
                       for f in PROPERTY_FIELDS)
    if shape is not None and not read_csv_into(con, "cad", [CsvFile(path, shape[1], shape[2])], header, mapped, []):
        return
    rows = (parsed or parse_csv(text))[1]
    con.register("cad_frame", pd.DataFrame(rows, columns=header, dtype="string"))
    try:
        con.execute(f"INSERT INTO cad BY NAME SELECT {mapped}, ? AS source_file FROM cad_frame", [path.name])
    finally:
        con.unregister("cad_frame")
