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
    settings.SMS_BACKEND = "accounts.sms.MemorySmsBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LANGUAGE_CODE = "en"
    # Hashing is not under test here; the real hasher makes every login fixture slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    sms.outbox.clear()
    yield
    sms.outbox.clear()


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
