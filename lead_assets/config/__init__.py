"""The configuration: `leads.toml` read into Settings, its schema, and the partition scheme."""
