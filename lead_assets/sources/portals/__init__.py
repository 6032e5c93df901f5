"""Open-data portal sources: pull a city's permits of one day from Socrata (SODA) or ArcGIS
REST into the landing folder, so ingest, quarantine and replays work exactly as for file drops."""
