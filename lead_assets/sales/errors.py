"""The one error of the sales side: bad input, refused before anything changes.

Every change is one warehouse transaction, validated first: bad input raises SalesError
(a ConfigError, so the `leads` command prints it in one line and exits 2) and changes nothing.
"""
from __future__ import annotations

from lead_assets.config.errors import ConfigError


class SalesError(ConfigError):
    """Bad input for a sales command; nothing was changed."""
