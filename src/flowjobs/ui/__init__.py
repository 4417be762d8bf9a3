"""The dashboard at /ui: server-rendered pages over the manager and catalog."""

from flowjobs.ui.app import create_ui

__all__ = ["create_ui"]
