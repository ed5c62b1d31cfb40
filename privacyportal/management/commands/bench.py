"""``manage.py bench``: the portal against its floors (``make bench``, docs/benchmarks.md).

Creates a database of its own beside the configured one (``<name>_bench``), migrates it, fills it
with set-based SQL, runs every scenario, prints a table and writes JSON, then drops the database
(``--keep`` keeps it, and a later ``--reuse`` skips the data that is already there). Exits with 1
when a ratio is over its budget at a scale that holds budgets (medium, large).
"""

import sys
import time
import warnings

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from privacyportal.bench import runner
from privacyportal.bench.context import Context
from privacyportal.bench.scales import SCALES


class Command(BaseCommand):
    help = "Measure the portal against floors measured in the same run, on a database of its own."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
        parser.add_argument("--json", default="var/bench.json", help="Where to write the results.")
        parser.add_argument(
            "--only", action="append", help="Run only these scenario modules (sweeps, lists, ...)."
        )
        parser.add_argument(
            "--markdown",
            help="Also put the table in this Markdown file, between <!-- bench:SCALE --> marks "
            "(make bench: docs/benchmarks.md).",
        )
        parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
        parser.add_argument(
            "--reuse", action="store_true", help="Use a kept database instead of a new one."
        )
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="Use the configured database as it is (tests; it must be disposable).",
        )

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark runs on PostgreSQL (DATABASE_URL=postgres://...).")
        scale = SCALES[opts["scale"]]
        # WhiteNoise warns once that collectstatic has not run; pages render without it here.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        # Pages render without `collectstatic` having run, so static URLs come from the plain
        # storage instead of the manifest (a dictionary lookup either way).
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        started = time.monotonic()
        self._name = None
        if not opts["in_place"]:
            self._use_own_database(reuse=opts["reuse"])
        try:
            if not opts["in_place"]:
                call_command("migrate", verbosity=0, interactive=False)
            ctx = Context(scale=scale, log=self._log)
            results = runner.run(
                ctx, only=opts["only"], snapshot=None if opts["in_place"] else self._snapshot
            )
            self.stdout.write("")
            runner.report(
                ctx,
                results,
                self.stdout.write,
                opts["json"],
                started,
                # Smoke figures are noise: they go to the JSON, not into the documentation.
                opts["markdown"] if scale.enforce else None,
            )
        finally:
            if not opts["in_place"] and not opts["keep"]:
                self._drop_own_database()
        over = [r for r in results if not r.passed]
        self.stdout.write(f"\nResults written to {opts['json']}.")
        if over and scale.enforce:
            for r in over:
                self.stderr.write(f"Over budget: {r.title}: {'; '.join(r.failures)}")
            sys.exit(1)
        if over:
            self.stdout.write(
                f"{len(over)} ratio(s) over budget at the {scale.name} scale, where figures are "
                "too small to judge; budgets are held at the medium and large scales."
            )

    def _log(self, line):
        self.stdout.write(line)
        self.stdout.flush()

    # --- The database of its own ------------------------------------------------------------

    def _admin_conninfo(self):
        db = settings.DATABASES["default"]
        return {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "dbname": "postgres",
        }

    def _use_own_database(self, reuse):
        db = settings.DATABASES["default"]
        self._original_name = db["NAME"]
        name = db["NAME"] if db["NAME"].endswith("_bench") else f"{db['NAME']}_bench"
        self._name = name
        connections.close_all()
        with psycopg.connect(**self._admin_conninfo(), autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if exists and not reuse:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if not exists or not reuse:
                admin.execute(f'CREATE DATABASE "{name}"')
        db["NAME"] = name
        connections["default"].settings_dict["NAME"] = name
        self._log(f"Database {name} ({'reused' if exists and reuse else 'new'}).")

    def _snapshot(self, existing_only=False):
        """A copy of the database as it is now (the small size), beside it: ``<name>_small``.
        With ``existing_only``, the copy a kept run left, if any."""
        small = f"{self._name}_small"
        connections.close_all()
        with psycopg.connect(**self._admin_conninfo(), autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [small]
            ).fetchone()
            if existing_only:
                return small if exists else None
            if exists:
                admin.execute(f'DROP DATABASE "{small}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{small}" TEMPLATE "{self._name}"')
        self._log(f"Database {small}: a copy at the small size, for timing pages at both sizes.")
        return small

    def _drop_own_database(self):
        connections.close_all()
        with psycopg.connect(**self._admin_conninfo(), autocommit=True) as admin:
            for name in (self._name, f"{self._name}_small"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._log(f"Database {self._name} (and its small copy) dropped.")
