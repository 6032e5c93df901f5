"""Operations commands (retry, backfill)."""


def add_ops_commands(sub) -> None:
    """Register the operations subcommands on the `leads` parser."""
