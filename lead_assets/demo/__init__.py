"""Deterministic demo data: building permits for five North-Texas cities plus CAD records.

``generate_demo(root, end_date)`` writes, under ``root``:

* ``landing/<city>/<city>_permits_YYYY-MM-DD.(csv|json)`` -- one file per city per issued day,
  in three different source schemas (Plano/Allen/McKinney CSV, Frisco CSV, Prosper JSON);
* ``cad/collin_cad_properties.csv`` -- appraisal-district property records the permit
  addresses draw from (about 90% of distinct permit addresses have a record).

The feeds carry the noise real ones have (production builders, demolitions, signs, temp power,
vague text, blank valuations and contacts, homeowner permits, duplicate rows, a few malformed
rows, one cp1252-encoded Frisco file). See ``NOISE`` for the rates.

Standard library only; one ``random.Random(seed)`` drives everything, nothing reads the clock,
so the same arguments always give byte-identical files.
"""
