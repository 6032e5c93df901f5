"""Sales-side assets (see issue: lead sales lifecycle)."""

sales_assets: list = []
