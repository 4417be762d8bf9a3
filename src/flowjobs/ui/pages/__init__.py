"""One router per page group of the dashboard."""
