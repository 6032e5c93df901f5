"""The one error type of a bad configuration or selection (a one-line message, no traceback)."""


class ConfigError(ValueError):
    """The configuration or a selection made against it is wrong."""
