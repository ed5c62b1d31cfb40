"""`manage.py makemigrations --check` on a bare checkout: no .env, no secrets, no services."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_makemigrations_check_needs_no_production_settings(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DJANGO_ENV_FILE": "none"}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_other_commands_still_refuse_to_start_without_the_secret(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DJANGO_ENV_FILE": "none"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
