"""flowjobs: a self-hosted Jobs API server for long-running integration flows."""

__version__ = "0.1.0"
