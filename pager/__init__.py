"""pagerd: an on-call pager daemon."""

__version__ = "0.1.0"
