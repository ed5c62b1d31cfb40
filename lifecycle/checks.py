from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import certificates


def check_retention_rules(app_configs=None, **kwargs):
    """Every data category of the registry has a retention rule (RET-1). Skipped while
    migrations are pending (they seed the rules) or before the database exists."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from .retention import missing_rules

    try:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return []
        missing = missing_rules()
    except Exception:  # no database (yet), or none allowed here: nothing to check against
        return []
    if missing:
        return [
            checks.Error(
                f"Data categories without a retention rule: {', '.join(missing)}.",
                hint="Add the rules in the admin (Data lifecycle > Retention rules) or in a data "
                "migration, as lifecycle/migrations/0004_seed_retention_rules.py does.",
                id="lifecycle.E002",
            )
        ]
    return []


def check_certificate_keys(app_configs=None, **kwargs):
    """``manage.py check`` fails on a missing or malformed certificate key (RGT-3), instead of
    the first account deletion."""
    certificates.reset()
    try:
        certificates.check()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="lifecycle.E001")]
    return []
