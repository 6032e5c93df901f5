import warnings

import dagster as dg

# backfill_policy / pool are Dagster "beta" parameters we rely on deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
