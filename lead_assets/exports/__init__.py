"""The CSV files sold to contractors, the review queue and the retry queue."""
