"""Production settings pass Django's deployment checklist without a single warning."""

import os
import subprocess
import sys

from django.conf import settings


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        {
            "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret",
            "DJANGO_ALLOWED_HOSTS": "privacy.example.com",
            "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:///:memory:"),
            "DJANGO_ENV_FILE": "/nonexistent/.env",  # ignore a developer's local .env
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            # Rate limits need a cache shared by every process (lib/ratelimits.py).
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "EMAIL_URL": "smtp://mail.example.com:587",
            "FIELD_ENCRYPTION_KEYS": "u-b8A7wpS1LgPN2znKoRGQxCSm3XO24Q7qHFF-IWr0U=",
            "BLIND_INDEX_KEY": "b" * 48,
            "SMS_BACKEND": "accounts.sms_providers.AliyunSmsBackend",
            "SMS_ALIYUN_ACCESS_KEY_ID": "LTAI-deploy-check",
            "SMS_ALIYUN_ACCESS_KEY_SECRET": "s" * 30,
            "SMS_ALIYUN_SIGN_NAME": "Privacy Portal",
            "SMS_ALIYUN_TEMPLATE_CODE": "SMS_123456789",
            "SMS_ALIYUN_NOTICE_TEMPLATE_CODE": "SMS_987654321",
        }
    )
    env.update(overrides)
    return env


def test_deploy_checklist_passes_on_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_secret_key_stops_start_up():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_its_services_and_keys():
    for name in (
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "EMAIL_URL",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
    ):
        env = production_env()
        del env[name]
        result = _manage("check", env=env)
        assert result.returncode != 0, name
        assert name in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("y" * 64 + "-read-from-a-mounted-secret-file\n")
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    env["DJANGO_SECRET_KEY_FILE"] = str(secret_file)
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_checklist_passes_with_the_policy_in_report_only_mode():
    """The first rollout step (CSP_REPORT_ONLY, CSP_REPORT_URI) passes the checklist too, and
    the Content-Security-Policy is really in force: its own checks run with the others."""
    env = production_env(CSP_REPORT_ONLY="true", CSP_REPORT_URI="https://csp.example.com/r")
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    code = "from django.conf import settings as s; print('csp' in s.INSTALLED_APPS, s.MIDDLEWARE)"
    shown = _manage("shell", "-c", code, env=production_env())
    last = shown.stdout.strip().splitlines()[-1]  # after the shell's note on its imports
    assert last.startswith("True"), shown.stdout + shown.stderr
    assert "csp.middleware.CSPMiddleware" in last
    assert "lib.middleware.PermissionsPolicyMiddleware" in last
    assert "lib.middleware.SignedInNoStoreMiddleware" in last


def test_health_endpoint_reports_the_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True}
    assert "no-cache" in response["Cache-Control"]
