"""Classification rules: word boundaries, whole project first, non-leads, commercial."""
import pytest

from lead_assets.leads.classify import classify


@pytest.mark.parametrize("description, permit_type, work_class, parties, category, discard", [
    # word boundaries
    ("Conditioned Space addition", None, None, None, "addition", None),
    ("Replace windows in spare bedroom", None, None, None, "windows", None),
    ("In-ground gunite pool and spa", None, None, None, "pool", None),
    ("Hot tub on new deck", "Residential Pool", None, None, "pool", None),
    # the whole project wins over its parts
    ("New 2-story residence with covered patio and pool bath", "Residential Building", "New", None,
     "new_construction", None),
    ("Partial demo for room addition", None, None, None, "addition", None),
    # a trade permit is its trade, even on a new house; its text alone of a whole project wins
    ("Plumbing for new single family residence", "Residential Plumbing", None, None, "plumbing", None),
    ("New single family residence", "Residential Plumbing", None, None, "new_construction", None),
    # solar PV is electrical work (LABELLING.md), flagged solar_pv
    ("Solar PV panels roof mounted 8.2kW", "Residential Electrical", None, None, "electrical", None),
    ("Replace electrical panel, 200 amp", None, None, None, "electrical", None),
    # permit type before description
    ("replace unit", "Residential Mechanical", "Replacement", None, "hvac", None),
    ("Hail damage", "Residential Roof", None, None, "roof", None),
    # commercial trades vs other commercial work
    ("Rooftop unit replacement at retail center", "Commercial Mechanical", None, None, "commercial_hvac", None),
    ("Grease trap for restaurant", "Commercial Plumbing", None, None, "commercial_plumbing", None),
    ("Apartment complex pool replaster", None, None, None, "commercial_pool", None),
    ("Tenant finish-out suite 200", "Commercial Building", None, None, "other", None),
    # non-leads, including a builder revealed by the contractor field
    ("NEW SFR PLAN 2450 ELEV B LOT 12", "Residential Building", "New", "D.R. Horton - Texas, Ltd", None,
     "production_builder"),
    ("Monument sign", "Sign", None, None, None, "sign"),
    ("Temp pole for construction", None, None, None, None, "temporary_power"),
    ("Demolish detached garage", None, None, None, None, "demolition"),
    # vague text is uncategorized
    ("misc", None, None, None, "other", None),
    ("", None, None, None, "other", None),
])
def test_classification(description, permit_type, work_class, parties, category, discard):
    got = classify(description, permit_type, work_class, parties)
    assert got.discard_reason == discard
    if category:
        assert got.category == category


def test_flags_mark_commercial_and_solar():
    assert "commercial" in classify("Rooftop unit at office building", "Commercial Mechanical").flags
    assert classify("Solar PV system").flags == "solar_pv"
    assert classify("Kitchen remodel").flags is None
