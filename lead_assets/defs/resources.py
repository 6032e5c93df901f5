"""The one resource: where the project's settings (and so the warehouse) are."""

import dagster as dg
from pydantic import Field

from lead_assets.config.settings import Settings


class LeadsResource(dg.ConfigurableResource):
    """Settings from leads.toml (LEADS_* environment variables override its paths)."""

    config_path: str = Field(description="The leads.toml this code location reads (LEADS_CONFIG at load time).")

    def settings(self) -> Settings:
        return Settings.load(self.config_path)


def build_resources(settings: Settings) -> dict:
    """Every resource the definitions bind."""
    from lead_assets.reasoner.resource import ReasonerResource  # LLM scorer settings (env by default)
    return {"leads": LeadsResource(config_path=str(settings.config_path)), "reasoner": ReasonerResource()}
