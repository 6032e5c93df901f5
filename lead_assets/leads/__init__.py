"""The lead logic: taxonomy, classification rules, scoring, projects, quality and drift. Plain Python and SQL, no Dagster."""
