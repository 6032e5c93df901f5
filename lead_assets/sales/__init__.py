"""The lead sales lifecycle (plain Python + SQL, no Dagster): buyers, review, sell, deliver, archive, report.

Sales, deliveries, review decisions and hand-set statuses live in their own tables keyed by
(city, permit_id), so rescoring never touches them. The `leads` sales commands (cli/sales.py)
and the `lead_sales` asset sit on top. Modules: errors, money, buyers, sharing (exclusive /
shared rules), leads (find, review, status, history), selling, deliveries, archive, report.
"""
