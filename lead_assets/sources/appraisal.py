"""Appraisal-district (CAD) exports -> `property_records`, keyed by normalized address."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lead_assets.sources.addresses import install_macros, key_addresses
from lead_assets.config.fields import PROPERTY_FIELDS
from lead_assets.config.settings import Settings
from lead_assets.sources.landing import parse_csv, decode
from lead_assets.warehouse.connection import connect, retry_conflicts, transaction


@dataclass
class AppraisalReport:
    files: int
    records: int
    owners_missing: int
    absentee: int


@retry_conflicts
def load_property_records(settings: Settings) -> AppraisalReport:
    cols = settings.appraisal.columns
    frames = []
    files = sorted(p for p in settings.appraisal_dir.glob(settings.appraisal.files) if p.is_file())
    for path in files:
        text, _ = decode(path.read_bytes())
        header, rows, _, _ = parse_csv(text)
        missing = [cols[f] for f in ("prop_id", "situs_address", "situs_city") if cols[f] not in header]
        if missing:
            raise ValueError(f"{path.name}: missing required column {', '.join(map(repr, missing))} "
                             "(appraisal export, see [appraisal.columns] in leads.toml)")
        frame = pd.DataFrame(rows, columns=header, dtype="string")
        out = pd.DataFrame({f: frame[cols[f]] if cols.get(f) in header else pd.Series(pd.NA, index=frame.index, dtype="string")
                            for f in PROPERTY_FIELDS})
        out["source_file"] = path.name
        frames.append(out)
    staged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*PROPERTY_FIELDS, "source_file"])
    with connect(settings.warehouse_path) as con, transaction(con):
        install_macros(con)
        con.register("cad", staged)
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
        records, owners_missing, absentee = con.execute("""
            SELECT count(*), count(*) FILTER (WHERE owner_name IS NULL),
                   count(*) FILTER (WHERE mail_key IS NOT NULL AND mail_key <> address_key)
            FROM property_records""").fetchone()
    return AppraisalReport(len(files), records, owners_missing, absentee)
