"""The DuckDB warehouse: connections and locking, and the tables the pipeline keeps."""
