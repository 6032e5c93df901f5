"""Failed model calls for tests, through the pipeline's own scorer interface (no hook in production code)."""
from __future__ import annotations

from lead_assets.leads import scoring


def failing_scorer(permit_ids, inner=None, error: str = "simulated failure (test)"):
    """A scorer that answers like `inner` (None: the rules) except that these permits come
    back as failed calls: score -1, an error and one more attempt, as the reasoner returns them."""
    ids = set(permit_ids)

    def scorer(candidates):
        final = inner(candidates) if inner is not None else candidates.assign(rules_score=candidates["score"])
        hit = final["discard_reason"].isna() & final["permit_id"].isin(ids)
        final.loc[hit, "score"] = -1
        final.loc[hit, "last_error"] = error
        final.loc[hit, "attempts"] = final.loc[hit, "prev_attempts"] + 1
        return final
    return scorer


def score_failing(settings, partitions, permit_ids, **kwargs):
    """scoring.score with these permits' scoring failed."""
    return scoring.score(settings, partitions, scorer=failing_scorer(permit_ids), **kwargs)


def inject_failures(monkeypatch, permit_ids) -> None:
    """Dagster runs of scored_leads (whatever their scorer) fail these permits' scoring."""
    import lead_assets.defs.assets.leads as leads_asset

    def score(settings, partitions, *, scorer=None, **kwargs):
        return scoring.score(settings, partitions, scorer=failing_scorer(permit_ids, scorer), **kwargs)
    monkeypatch.setattr(leads_asset, "score", score)
