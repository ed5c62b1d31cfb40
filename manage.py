#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import importlib
import os
import sys

# Commands that read only the models: no secret, key or service is used.
SCHEMA_COMMANDS = {"makemigrations"}


def schema_only(argv):
    """`makemigrations --check` works on a bare checkout too. Without the production settings
    (no DJANGO_SECRET_KEY, no .env) the settings refuse to load; a schema command then runs with
    the development defaults and without the system checks, which want the encryption keys."""
    if len(argv) < 2 or argv[1] not in SCHEMA_COMMANDS:
        return
    from django.core.exceptions import ImproperlyConfigured

    try:
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except ImproperlyConfigured:
        os.environ["DJANGO_DEBUG"] = "true"
        if "--skip-checks" not in argv:
            argv.append("--skip-checks")


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyportal.settings")
    schema_only(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
