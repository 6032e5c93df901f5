"""The canonical fields a city's or an appraisal district's columns map to."""

# Canonical permit fields (BLDS names in snake_case) that a source may map.
CANONICAL_FIELDS = (
    "permit_num", "permit_type", "work_class", "description", "issued_date", "applied_date",
    "original_address", "original_zip", "est_project_cost", "applicant_name",
    "contractor_name", "owner_name", "status",
)
REQUIRED_FIELDS = ("permit_num", "issued_date", "description", "original_address")

PROPERTY_FIELDS = (
    "prop_id", "situs_address", "situs_city", "situs_zip", "owner_name", "mail_address",
    "mail_city", "mail_state", "mail_zip", "market_value", "homestead",
)
