"""Sales lifecycle commands (review, sell, deliver, archive, report, status, buyers)."""


def add_sales_commands(sub) -> None:
    """Register the sales subcommands on the `leads` parser."""
