"""Shared helpers of the portal: the bottom layer. Nothing here imports one of the portal's apps;
apps import from here (like healthchecks' ``hc/lib``)."""
