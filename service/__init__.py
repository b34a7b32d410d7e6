"""Followup: self-hosted news monitoring that tracks follow-up developments."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/followup-news/followup"
USER_AGENT = f"Followup/{__version__} (+{PROJECT_URL})"
