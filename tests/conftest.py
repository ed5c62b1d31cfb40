import uuid

import pytest

from accounts import sms

from .browser import browser  # noqa: F401 - the browser tests' fixture, shared
from .factories import DataSubjectRequestFactory, DpoFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Private files in a temporary folder, SMS into memory, e-mail into django.core.mail.outbox."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SENSITIVE_MEDIA_ROOT = str(tmp_path / "documents")
    settings.EXPORT_ROOT = str(tmp_path / "exports")
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LANGUAGE_CODE = "en"
    # Hashing is not under test here; the real hasher makes every login fixture slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate-limit counts of one test never reach another (nor another xdist worker's, should
    # the counts live in a shared Redis): every test counts under keys of its own.
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _staff_pass_second_factor(request, monkeypatch):
    """Staff signed in with ``client.force_login`` have also passed the second factor (a
    confirmed authenticator and its mark in the session), so tests of admin pages need no
    extra step; production keeps asking for it. A test that wants the half-signed-in state asks
    for the ``raw_force_login`` fixture."""
    if "raw_force_login" in request.fixturenames:
        return
    from django.test import Client

    from .second_factor_helpers import mark_verified

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if user.is_staff:
            mark_verified(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def raw_force_login():
    """``client.force_login`` without passing the second factor (see above)."""


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def dpo(db):
    return DpoFactory()


@pytest.fixture
def dsr(db, user):
    """A freshly submitted request of ``user``."""
    return DataSubjectRequestFactory(requester=user)


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
