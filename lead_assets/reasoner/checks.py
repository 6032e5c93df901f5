"""The model's answer checked against the rules and the permit (after schema validation).

Two rules a small model must not be able to break quietly:

* **Category.** The rules' category is a check on the model's. When the two differ the
  lead goes to review (``model_category_differs:<rules>-><model>``) and, until a person
  decides, the buyer file follows this rule:

  - the rules named a buyer category: the lead stays in it (the model alone can never
    move a lead out of a buyer category, into ``other`` or into another buyer's file);
  - the rules said ``other``: the model's buyer category is used (the rules found no
    trade, so the model's is the only one there is), still with the review reason.

* **Ideal contractor.** It must describe a trade ("roofing contractor"), not name a
  company or a person. A company or person name from the permit, a legal-entity suffix,
  digits (dates, phone numbers, licence numbers) or text with no trade word in it is
  rejected; the rules' description for the lead's category takes its place and the lead
  carries the flag ``model:ideal_contractor_replaced``.
"""
from __future__ import annotations

import re

from lead_assets.leads.rules_scorer import IDEAL_CONTRACTOR

OTHER = "other"


def decide_category(rules: str, model: str | None) -> tuple[str, str | None]:
    """(category the lead uses, review reason or None). See the module docstring."""
    if model is None or model == rules:
        return rules, None
    reason = f"model_category_differs:{rules}->{model}"
    if rules == OTHER:
        return model, reason
    return rules, reason


# Words that name a trade or a kind of contractor. The taxonomy's own descriptions are
# built from these, so every rules description passes.
_TRADE_WORDS = {
    "contractor", "contractors", "builder", "builders", "installer", "installers", "roofer", "roofers",
    "plumber", "plumbers", "electrician", "electricians", "remodeler", "remodelers", "specialist",
    "specialists", "technician", "technicians", "company", "companies", "trades", "service", "services",
    "repair", "mason", "masons", "landscaper", "landscapers", "fabricator", "designer", "firm", "crew",
    "hvac", "pool", "roofing", "plumbing", "electrical", "fence", "fencing", "concrete", "flatwork",
    "siding", "window", "windows", "door", "doors", "foundation", "remodeling", "solar", "gutter",
    "gutters", "patio", "deck", "landscaping", "painting", "painter", "painters", "drywall", "flooring",
    "insulation", "irrigation", "outdoor", "general", "custom", "commercial", "residential", "kitchen",
    "bath", "garage", "generator", "ev", "charger", "paving", "demolition", "excavation", "masonry",
}
for _desc in IDEAL_CONTRACTOR.values():
    _TRADE_WORDS.update(re.findall(r"[a-z]+", _desc.lower()))

_ENTITY = re.compile(r"\b(llc|l\.l\.c|inc|ltd|corp|corporation|co\.|lp|llp|pllc|dba|d/b/a)\b", re.I)
_GENERIC = _TRADE_WORDS | {"and", "the", "of", "for", "or", "a", "an", "with", "in", "on", "to", "home", "homes",
                           "house", "owner", "owners", "new", "local", "licensed", "large", "small"}
_PARTIES = ("contractor_name", "owner_name")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def ideal_contractor_problem(text: str | None, permit: dict) -> str | None:
    """Why `text` is not a trade description (None: it is one)."""
    if not text:
        return None
    if re.search(r"\d", text):
        return "holds digits (a date, number or licence)"
    if _ENTITY.search(text):
        return "names a company"
    words = _words(text)
    for field in _PARTIES:
        party = permit.get(field)
        if isinstance(party, str) and party:
            names = {w for w in _words(party) if len(w) >= 3 and w not in _GENERIC}
            if names & set(words):
                return f"names the permit's {field.replace('_name', '')}"
    if not any(w in _TRADE_WORDS for w in words):
        return "names no trade"
    return None


__all__ = ["decide_category", "ideal_contractor_problem"]
