"""The one resource: where the project's settings (and so the warehouse) are."""

import dagster as dg
from pydantic import Field

from lead_assets.config.settings import Settings
from lead_assets.defs.runs import tag_run_worker


class LeadsResource(dg.ConfigurableResource):
    """Settings from leads.toml (LEADS_* environment variables override its paths)."""

    config_path: str = Field(description="The leads.toml this code location reads (LEADS_CONFIG at load time).")

    def settings(self) -> Settings:
        return Settings.load(self.config_path)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Every asset and check uses this resource, so each step records which process runs
        # its run: a run worker SIGKILLed while STARTED is then failed by fail_dead_runs,
        # which Dagster's run monitoring cannot do with the default run launcher.
        if context.instance is None or context.run is None:   # e.g. a sensor's resources
            return
        try:
            tag_run_worker(context.instance, context.run.run_id)
        except Exception as exc:   # bookkeeping only: never the reason a run fails
            if context.log is not None:
                context.log.warning(f"could not record this run's process: {exc}")


def build_resources(settings: Settings) -> dict:
    """Every resource the definitions bind."""
    from lead_assets.reasoner.resource import ReasonerResource  # LLM scorer settings (env by default)
    return {"leads": LeadsResource(config_path=str(settings.config_path)), "reasoner": ReasonerResource()}
