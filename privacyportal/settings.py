"""Settings of the privacy compliance portal.

One module: every difference between a developer's laptop, CI and production comes from the
environment (django-environ). With nothing set it runs on SQLite with an embedded (filesystem)
Celery broker, so `make run` needs nothing but Python. `DJANGO_DEBUG=false` switches on the
production safety checks: secrets without defaults fail at start-up.
"""

import re
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env (written by `make run`) fills in what the real environment does not set.
env_file = Path(env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")))
if env_file.is_file():
    env.read_env(str(env_file))


def env_secret(name, default=environ.Env.NOTSET):
    """Read a secret from NAME or from the file named by NAME_FILE (Docker/K8s secrets)."""
    file_var = f"{name}_FILE"
    if file_var in env:
        return Path(env.str(file_var)).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Production secrets have no default: a missing one stops the process at start-up.
SECRET_KEY = env_secret(
    "DJANGO_SECRET_KEY", default="dev-insecure-key" if DEBUG else environ.Env.NOTSET
)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "privacyportal.apps.PortalAdminConfig",  # replaces django.contrib.admin: the DPO cockpit
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "phonenumber_field",
    "auditlog",
    "accounts.apps.SignInProtectionConfig",  # django-axes, named for staff
    # Staff second factor: authenticator apps (TOTP) and backup codes. Before accounts, whose
    # admin replaces their device admins.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "csp",  # system checks that catch old-style or mistyped CSP settings
    "audit",
    "accounts",
    "verification",
    "requests.apps.RequestsConfig",
    "consent",
    "notifications",
    "lifecycle",
    "incidents",  # breach incidents and their notification (SEC-1)
    "privacyportal.apps.PortalConfig",  # commands that span every app (seed_demo, benchmark)
]

MIDDLEWARE = [
    "lib.middleware.PermissionsPolicyMiddleware",  # first: every response, static files too
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (see "Response headers")
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /healthz answered here: no session or user is loaded for a load balancer's probe.
    "lib.middleware.HealthCheckMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "lib.middleware.SignedInNoStoreMiddleware",  # no-store on every signed-in response
    # 400, never a database error, for NUL input; after no-store, which then covers its answer.
    "lib.middleware.RejectNulBytesMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the staff second factor
    "accounts.middleware.UserLanguageMiddleware",
    "lifecycle.middleware.PendingDeletionMiddleware",  # offer to cancel a deletion (RGT-3)
    "consent.middleware.PolicyConsentMiddleware",  # re-consent interstitial + notice (POL-1)
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",  # staff idle/max age; after messages
    # A form sent twice takes effect once: after CSRF, the messages and the session checks,
    # which may answer first.
    "accounts.once.OnceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.PortalAuditlogMiddleware",
    # Admin pages name people (not U-000042) while they render; records keep the reference.
    "accounts.display.NamePeopleInAdminMiddleware",
    "axes.middleware.AxesMiddleware",
]
# `make run` (debug mode) shows the site's own 404 page, as production does, instead of Django's
# technical one; DJANGO_DEBUG_TECHNICAL_404=true brings that back (privacyportal/errors.py).
if DEBUG and not env.bool("DJANGO_DEBUG_TECHNICAL_404", default=False):
    MIDDLEWARE.append("privacyportal.errors.BrandedNotFoundInDebugMiddleware")
# A form sent with a missing or stale CSRF token: the site's own page (templates/403_csrf.html).
CSRF_FAILURE_VIEW = "privacyportal.errors.csrf_failure"

ROOT_URLCONF = "privacyportal.urls"
WSGI_APPLICATION = "privacyportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "consent.context_processors.cookie_consent",
            ],
            # {% once_token %} in every form that creates or changes something (accounts.once);
            # {% frame %} around the parts of a page that are the same for everyone (lib.frames).
            "builtins": ["accounts.templatetags.once", "lib.frames"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Outside debug mode the services must be named: production never falls back to SQLite, the
# filesystem broker or console e-mail by accident.
_DEV_ONLY = environ.Env.NOTSET


def dev_default(value):
    return value if DEBUG else _DEV_ONLY


DATABASES = {
    "default": env.db_url_config(
        env_secret("DATABASE_URL", default=dev_default(f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"))
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one file in `make run`: wait for locks instead of failing,
    # and take the write lock at BEGIN so two writers never deadlock half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # The covering indexes of PostgreSQL (INCLUDE columns) are plain indexes on SQLite.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Set behind PgBouncer in transaction mode (server-side cursors need a session).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url_config(env_secret("CACHE_URL", default="locmemcache://"))}

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.PortalBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:center"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PHONENUMBER_DEFAULT_REGION = "CN"
PHONENUMBER_DB_FORMAT = "E164"

# Client addresses: behind N reverse proxies, the Nth address from the right of
# X-Forwarded-For is the client's (0 = use REMOTE_ADDR, for a direct connection).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- Password lockout (django-axes) -----------------------------------------------------------
# Wrong passwords are counted per person (an e-mail address, a phone number in any spelling:
# one key per account, accounts.backends.axes_username), per person from one network, and per
# network across people; each has its own limit within AXES_COOLOFF_HOURS
# (accounts.backends.LockoutHandler). 0 switches the per-person or the per-network count off.
AXES_CLIENT_IP_CALLABLE = "lib.network.client_limit_address"  # IPv6 per /64
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)  # one person from one network
AXES_ACCOUNT_FAILURE_LIMIT = env.int("AXES_ACCOUNT_FAILURE_LIMIT", default=20)  # any network
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=30)  # any person
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [
    ["username", "ip_address"],
    *([["username"]] if AXES_ACCOUNT_FAILURE_LIMIT > 0 else []),
    *([["ip_address"]] if AXES_IP_FAILURE_LIMIT > 0 else []),
]
AXES_HANDLER = "accounts.backends.LockoutHandler"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# A sign-in forgets only that person's failures from that network (LockoutHandler).
AXES_RESET_ON_SUCCESS = True
# Attempts refused during a lockout do not extend it: otherwise one try an hour would keep a
# victim's password sign-in locked for ever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

# --- Staff second factor and session limits -------------------------------------------------
# The admin refuses a staff session that has not passed a second factor (an authenticator app
# or a backup code, django-otp); accounts/second_factor.py. Wrong codes: at most this many per
# staff member within the window, then every code is refused until the window has passed.
SECOND_FACTOR_MAX_FAILURES = env.int("SECOND_FACTOR_MAX_FAILURES", default=5)
SECOND_FACTOR_FAILURE_WINDOW_MINUTES = env.int("SECOND_FACTOR_FAILURE_WINDOW_MINUTES", default=15)
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Privacy portal")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # never show device keys or backup codes in the admin
# A staff session ends after this long without a request, and this long after signing in.
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=30)
STAFF_SESSION_MAX_HOURS = env.int("STAFF_SESSION_MAX_HOURS", default=12)

# --- SMS delivery (ACC-1) ---------------------------------------------------------------------
# The console/file backend (codes in the log and in SMS_FILE_PATH) is the default in debug mode
# only: production must name a provider's backend, and a system check (accounts.E102) refuses
# the console/file one outside debug mode. Tests use accounts.sms.LocmemSmsBackend.
SMS_BACKEND = env.str("SMS_BACKEND", default=dev_default("accounts.sms.ConsoleFileSmsBackend"))
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms" / "outbox.log")
# Seconds the providers' backends wait to connect, send and for each read of the answer.
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=10.0)
# accounts.sms_providers.AliyunSmsBackend: Alibaba Cloud SMS (Dysmsapi SendSms).
SMS_ALIYUN_ACCESS_KEY_ID = env_secret("SMS_ALIYUN_ACCESS_KEY_ID", default="")
SMS_ALIYUN_ACCESS_KEY_SECRET = env_secret("SMS_ALIYUN_ACCESS_KEY_SECRET", default="")
SMS_ALIYUN_SIGN_NAME = env.str("SMS_ALIYUN_SIGN_NAME", default="")
SMS_ALIYUN_TEMPLATE_CODE = env.str("SMS_ALIYUN_TEMPLATE_CODE", default="")
# The template's variables, each filled with the value of the same name (code, minutes).
SMS_ALIYUN_TEMPLATE_PARAMS = env.list("SMS_ALIYUN_TEMPLATE_PARAMS", default=["code"])
# The notice template: messages to people without an e-mail address (notifications outbox),
# its variables each one of subject (the short text) and link (the account center's messages).
SMS_ALIYUN_NOTICE_TEMPLATE_CODE = env.str("SMS_ALIYUN_NOTICE_TEMPLATE_CODE", default="")
SMS_ALIYUN_NOTICE_TEMPLATE_PARAMS = env.list(
    "SMS_ALIYUN_NOTICE_TEMPLATE_PARAMS", default=["subject", "link"]
)
SMS_ALIYUN_ENDPOINT = env.str("SMS_ALIYUN_ENDPOINT", default="https://dysmsapi.aliyuncs.com/")
# accounts.sms_providers.TencentSmsBackend: Tencent Cloud SMS (API 3.0 SendSms).
SMS_TENCENT_SECRET_ID = env_secret("SMS_TENCENT_SECRET_ID", default="")
SMS_TENCENT_SECRET_KEY = env_secret("SMS_TENCENT_SECRET_KEY", default="")
SMS_TENCENT_SDK_APP_ID = env.str("SMS_TENCENT_SDK_APP_ID", default="")
SMS_TENCENT_SIGN_NAME = env.str("SMS_TENCENT_SIGN_NAME", default="")
SMS_TENCENT_TEMPLATE_ID = env.str("SMS_TENCENT_TEMPLATE_ID", default="")
# The template's parameters {1}, {2}, ... in order, each one of: code, minutes.
SMS_TENCENT_TEMPLATE_PARAMS = env.list("SMS_TENCENT_TEMPLATE_PARAMS", default=["code", "minutes"])
SMS_TENCENT_NOTICE_TEMPLATE_ID = env.str("SMS_TENCENT_NOTICE_TEMPLATE_ID", default="")
SMS_TENCENT_NOTICE_TEMPLATE_PARAMS = env.list(
    "SMS_TENCENT_NOTICE_TEMPLATE_PARAMS", default=["subject", "link"]
)
SMS_TENCENT_REGION = env.str("SMS_TENCENT_REGION", default="ap-guangzhou")
SMS_TENCENT_ENDPOINT = env.str("SMS_TENCENT_ENDPOINT", default="https://sms.tencentcloudapi.com/")
# One-time SMS codes (ACC-1).
SMS_CODE_TTL_SECONDS = env.int("SMS_CODE_TTL_SECONDS", default=300)
SMS_CODE_MAX_ATTEMPTS = env.int("SMS_CODE_MAX_ATTEMPTS", default=5)
SMS_CODE_MIN_INTERVAL_SECONDS = env.int("SMS_CODE_MIN_INTERVAL_SECONDS", default=60)
SMS_CODE_MAX_PER_PHONE_PER_HOUR = env.int("SMS_CODE_MAX_PER_PHONE_PER_HOUR", default=5)
SMS_CODE_MAX_PER_IP_PER_HOUR = env.int("SMS_CODE_MAX_PER_IP_PER_HOUR", default=20)

# --- Linked logins (ACC-2, accounts/oauth.py) ------------------------------------------------
# A provider is offered only when its app id and secret are set. The URLs are the providers'
# documented endpoints; tests point them at a local stand-in.
LINKED_LOGIN_HTTP_TIMEOUT = env.float("LINKED_LOGIN_HTTP_TIMEOUT", default=10.0)
WECHAT_LOGIN_APP_ID = env.str("WECHAT_LOGIN_APP_ID", default="")
WECHAT_LOGIN_APP_SECRET = env_secret("WECHAT_LOGIN_APP_SECRET", default="")
WECHAT_LOGIN_AUTHORIZE_URL = env.str(
    "WECHAT_LOGIN_AUTHORIZE_URL", default="https://open.weixin.qq.com/connect/qrconnect"
)
WECHAT_LOGIN_TOKEN_URL = env.str(
    "WECHAT_LOGIN_TOKEN_URL", default="https://api.weixin.qq.com/sns/oauth2/access_token"
)
QQ_LOGIN_APP_ID = env.str("QQ_LOGIN_APP_ID", default="")
QQ_LOGIN_APP_KEY = env_secret("QQ_LOGIN_APP_KEY", default="")
QQ_LOGIN_AUTHORIZE_URL = env.str(
    "QQ_LOGIN_AUTHORIZE_URL", default="https://graph.qq.com/oauth2.0/authorize"
)
QQ_LOGIN_TOKEN_URL = env.str("QQ_LOGIN_TOKEN_URL", default="https://graph.qq.com/oauth2.0/token")
QQ_LOGIN_ME_URL = env.str("QQ_LOGIN_ME_URL", default="https://graph.qq.com/oauth2.0/me")

# --- Rate limits: anonymous writes, codes and passwords (lib/ratelimits.py) ------------------
# django-ratelimit counts in the cache alias "ratelimit", which every web process must share:
# Redis in production (RATELIMIT_CACHE_URL, by default CACHE_URL). Outside debug mode
# `check --deploy` refuses a per-process cache (ratelimits.E001): each process would count on
# its own. `make run` is one process, and the tests count per process on purpose: locmem.
RATELIMIT_CACHE_URL = env_secret(
    "RATELIMIT_CACHE_URL", default=env_secret("CACHE_URL", default="locmemcache://")
)
CACHES["ratelimit"] = env.cache_url_config(RATELIMIT_CACHE_URL)
if CACHES["ratelimit"]["BACKEND"].endswith("LocMemCache"):
    CACHES["ratelimit"]["LOCATION"] = "ratelimit"  # apart from a locmem default cache
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# When the cache cannot be reached: false refuses the limited forms (429), true lets them
# through (the SMS and password limits, counted in the database, still apply).
RATELIMIT_FAIL_OPEN = env.bool("RATELIMIT_FAIL_OPEN", default=False)


def env_rate(name, default):
    """A rate "count/period" (period: s, m, h, d, optionally with a multiple: 10m); empty = off."""
    value = env.str(name, default=default).strip()
    if value and not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like 30/10m (count/period), not {value!r}")
    return value


RATELIMITS = {
    "signin-per-address": env_rate("RATELIMIT_SIGNIN_PER_ADDRESS", "60/10m"),
    "code-entry-per-address": env_rate("RATELIMIT_CODE_ENTRY_PER_ADDRESS", "30/h"),
    "code-entry-per-number": env_rate("RATELIMIT_CODE_ENTRY_PER_NUMBER", "10/h"),
    "cookie-choices-per-address": env_rate("RATELIMIT_COOKIE_CHOICES_PER_ADDRESS", "60/10m"),
    "new-visitors-per-address": env_rate("RATELIMIT_NEW_VISITORS_PER_ADDRESS", "20/h"),
    "request-filing-per-user": env_rate("RATELIMIT_REQUEST_FILING_PER_USER", "20/h"),
    "profile-per-user": env_rate("RATELIMIT_PROFILE_PER_USER", "20/h"),
    "reauth-per-user": env_rate("RATELIMIT_REAUTH_PER_USER", "10/h"),
    "erasure-ack-per-address": env_rate("RATELIMIT_ERASURE_ACK_PER_ADDRESS", "600/h"),
    "erasure-ack-failures-per-address": env_rate(
        "RATELIMIT_ERASURE_ACK_FAILURES_PER_ADDRESS", "20/h"
    ),
}

# --- Encryption at rest (VER-4) ---------------------------------------------------------------
# Fernet keys, newest first, comma-separated; separate from SECRET_KEY. No default anywhere: a
# missing key stops production at start-up and fails loudly on first use in development.
FIELD_ENCRYPTION_KEYS = [
    k.strip() for k in env_secret("FIELD_ENCRYPTION_KEYS", default=dev_default("")).split(",")
]
BLIND_INDEX_KEY = env_secret("BLIND_INDEX_KEY", default=dev_default(""))
SENSITIVE_MEDIA_ROOT = env.path("SENSITIVE_MEDIA_ROOT", default=VAR_DIR / "documents")

# --- Real-name verification (VER-1..4) and minors (MIN-1) -------------------------------------
VERIFICATION_DOCUMENT_MAX_BYTES = env.int(
    "VERIFICATION_DOCUMENT_MAX_BYTES", default=5 * 1024 * 1024
)
VERIFICATION_SUBMISSION_MAX_BYTES = env.int(
    "VERIFICATION_SUBMISSION_MAX_BYTES", default=15 * 1024 * 1024
)
# Documents are deleted this many days after the decision; the hash and decision remain.
VERIFICATION_DOCUMENT_RETENTION_DAYS = env.int("VERIFICATION_DOCUMENT_RETENTION_DAYS", default=30)
# Enterprise verifications need approval by two different staff members.
VERIFICATION_FOUR_EYES_ENTERPRISE = env.bool("VERIFICATION_FOUR_EYES_ENTERPRISE", default=True)
CHILD_AGE = 14  # under this, a guardian's verified consent is required (MIN-1)
ADULT_AGE = 18  # under this, the account center shows the guidance for minors

# --- Carrying out requests: exports, erasure, account deletion (RGT-1..3, RET-3) ----------------
# Exports (ZIP files, stored encrypted) are deleted this many days after they are ready.
EXPORT_ROOT = env.path("EXPORT_ROOT", default=VAR_DIR / "exports")
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
# Days between asking for the account's deletion and carrying it out; signing in cancels.
ACCOUNT_DELETION_COOLING_OFF_DAYS = env.int("ACCOUNT_DELETION_COOLING_OFF_DAYS", default=15)
# How long backups are kept: erased data may live on in them until then (RET-3).
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
# Ed25519 private keys (base64, newest first) that sign deletion certificates. No default:
# production fails at start-up without one; `make run` writes one into .env.
DELETION_CERTIFICATE_KEYS = [
    k.strip()
    for k in env_secret("DELETION_CERTIFICATE_KEYS", default=dev_default("")).split(",")
    if k.strip()
]
# The retention sweep (RET-1): rows per batch (one transaction each). Most categories are
# erased by one DELETE/UPDATE ... RETURNING per batch that also writes its erasure record:
# 10,000 rows hold their row locks for a few tens of milliseconds and put ~80 KB of keys in
# the record, and a sweep makes 20 times fewer round trips and commits than with 500 (make
# bench, 50,000 expired codes: 100 row-by-row batches of 500 took 9x one set-based DELETE,
# 5 statements of 10,000 about 2x). Rows with cascades, files or audit-log copies go row by
# row, at most 500 a batch (lifecycle.retention.ROW_BY_ROW_BATCH_SIZE).
RETENTION_SWEEP_BATCH_SIZE = env.int("RETENTION_SWEEP_BATCH_SIZE", default=10_000)
# A JSON-lines file every erasure is appended to, kept apart from the database, so that
# `replay_erasures` can re-apply erasures after a restore (RET-3). Empty: no journal.
ERASURE_JOURNAL = env.str("ERASURE_JOURNAL", default="")
# Days a recipient has to acknowledge an erasure before the DPO is alerted.
RECIPIENT_ACK_DAYS = env.int("RECIPIENT_ACK_DAYS", default=15)
# A minor's data is deleted on a shorter clock (MIN-2).
MINOR_DELETION_SLA_DAYS = env.int("MINOR_DELETION_SLA_DAYS", default=5)
MINOR_DELETION_SLA_CALENDAR = env.str("MINOR_DELETION_SLA_CALENDAR", default="workdays")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
# One date format per language: the short formats equal the long ones (privacyportal/formats).
FORMAT_MODULE_PATH = ["privacyportal.formats"]
LOCALE_PATHS = [Path(env.path("DJANGO_LOCALE_DIR", default=BASE_DIR / "locale"))]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Shanghai")

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Attachments are private: no MEDIA_URL, served only through permission-checking views.
    # They are encrypted under SENSITIVE_MEDIA_ROOT; this folder holds only attachments from
    # before that, until `manage.py encrypt_attachments` has encrypted them.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private")},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads stay in memory up to the per-file limit; only oversize ones touch the disk.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
ATTACHMENT_MAX_TOTAL_BYTES = env.int("ATTACHMENT_MAX_TOTAL_BYTES", default=20 * 1024 * 1024)
ATTACHMENT_MAX_FILES_PER_MESSAGE = env.int("ATTACHMENT_MAX_FILES_PER_MESSAGE", default=5)
FILE_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Larger uploads (refused anyway) spool here rather than to a shared /tmp.
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=str(VAR_DIR / "upload-tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- Upload hardening: image sizes (lib/uploads.py) -----------------------------------------
# Images are measured from their header before anything is decoded. One image may have at most
# UPLOAD_MAX_PIXELS pixels (25 MP: a 24 MP phone photo of an ID passes); the images of one
# submission (a request, a reply, a verification) at most UPLOAD_MAX_PIXELS_PER_SUBMISSION
# together, so a handful of large images cannot tie up a worker.
UPLOAD_MAX_PIXELS = env.int("UPLOAD_MAX_PIXELS", default=25_000_000)
UPLOAD_MAX_PIXELS_PER_SUBMISSION = env.int("UPLOAD_MAX_PIXELS_PER_SUBMISSION", default=60_000_000)

# --- Profile photos (accounts/photos.py) ----------------------------------------------------
# Largest photo accepted, in bytes; it is re-encoded to a JPEG of at most AVATAR_SIZE pixels a side.
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=2 * 1024 * 1024)
# Linking a WeChat or QQ login needs a sign-in this recent (else the person signs in again).
LINK_REQUIRES_SIGN_IN_WITHIN_MINUTES = env.int("LINK_REQUIRES_SIGN_IN_WITHIN_MINUTES", default=10)
AVATAR_SIZE = env.int("AVATAR_SIZE", default=512)

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url_config(env_secret("EMAIL_URL", default=dev_default("consolemail://")))
vars().update(EMAIL_CONFIG)
# Each wait on the mail server; keep it well below OUTBOX_LEASE_SECONDS / 3 (see below).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# The outbox (notifications/services.py). A delivering worker holds a lease on the rows it
# claimed, renewed every third of it; a row whose lease passed (its worker died) is taken again
# by the next run, which beat starts every OUTBOX_BEAT_SECONDS: an interrupted message goes out
# again within about a minute. A run sends OUTBOX_BATCH_SIZE rows per claim, for at most
# OUTBOX_RUN_SECONDS, then queues its successor; a full batch also queues a helper run, so
# every worker process takes part in a large backlog.
# How long a used one-time form token is remembered (accounts.once): a form sent again within
# this time is recognised as sent. Default: 1 day.
FORM_TOKEN_DAYS = env.int("FORM_TOKEN_DAYS", default=1)
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=45)
OUTBOX_BEAT_SECONDS = env.int("OUTBOX_BEAT_SECONDS", default=15)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
OUTBOX_RUN_SECONDS = env.int("OUTBOX_RUN_SECONDS", default=50)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="privacy@example.com")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# `make run PORT=8100` passes PORTAL_PORT to every process, so the links in e-mails sent by the
# worker follow the port of the web server; an explicit PORTAL_BASE_URL always wins.
PORTAL_BASE_URL = env.str(
    "PORTAL_BASE_URL", default=f"http://127.0.0.1:{env.int('PORTAL_PORT', default=8000)}"
)

# --- Requests and the SLA clock (SLA-1) -----------------------------------------------------
SLA_DAYS = env.int("SLA_DAYS", default=15)
SLA_CALENDAR = env.str("SLA_CALENDAR", default="calendar")  # "calendar" or "workdays"
SLA_REMIND_DAYS_BEFORE = [3, 1]
SLA_MAX_EXTENSION_DAYS = env.int("SLA_MAX_EXTENSION_DAYS", default=30)
SLA_SWEEP_BATCH_SIZE = env.int("SLA_SWEEP_BATCH_SIZE", default=1000)
DPO_GROUP_NAME = env.str("DPO_GROUP_NAME", default="Data Protection Officers")
DPO_EMAIL = env.str("DPO_EMAIL", default="dpo@example.com")
# Named in refusals as the authority to complain to; empty = a translated default naming the CAC.
COMPLAINT_AUTHORITY = env.str("COMPLAINT_AUTHORITY", default="")

# --- Breach incidents (SEC-1) ---------------------------------------------------------------
# Hours from an incident's detection to report it to the regulator and to notify the people
# affected (the clocks of incidents/clocks.py; fixed per incident when its detection is saved).
INCIDENT_REGULATOR_HOURS = env.int("INCIDENT_REGULATOR_HOURS", default=72)
INCIDENT_PEOPLE_HOURS = env.int("INCIDENT_PEOPLE_HOURS", default=72)
# The DPO group is warned once when a running clock comes within each of these hours, and once
# when it has passed (incidents/sweep.py).
INCIDENT_WARN_HOURS_BEFORE = env.list("INCIDENT_WARN_HOURS_BEFORE", cast=int, default=[24, 6])
# People notified per batch (one transaction each) by the notification fan-out.
INCIDENT_NOTIFY_BATCH_SIZE = env.int("INCIDENT_NOTIFY_BATCH_SIZE", default=500)
# Uploaded lists of phone numbers or e-mail addresses choosing the people affected.
INCIDENT_UPLOAD_MAX_BYTES = env.int("INCIDENT_UPLOAD_MAX_BYTES", default=2 * 1024 * 1024)
INCIDENT_UPLOAD_MAX_ROWS = env.int("INCIDENT_UPLOAD_MAX_ROWS", default=50_000)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", default=dev_default("filesystem://"))
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The queue tasks are sent to and workers read by default: give each deployment sharing one
# Redis a queue of its own.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {
        "task": "requests.tasks.sla_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "purge-verification-documents": {
        "task": "verification.tasks.purge_verification_documents",
        "schedule": crontab(hour=3, minute=30),
    },
    "prune-form-tokens": {
        "task": "accounts.tasks.prune_form_tokens",
        "schedule": crontab(hour=4, minute=10),
    },
    "deliver-notifications": {
        "task": "notifications.tasks.deliver_notifications",
        "schedule": float(OUTBOX_BEAT_SECONDS),
    },
    "resume-campaigns": {
        "task": "consent.tasks.resume_campaigns",
        "schedule": crontab(minute="*/5"),
    },
    "resume-exports": {
        "task": "lifecycle.tasks.resume_exports",
        "schedule": crontab(minute="*/5"),
    },
    "purge-expired-exports": {
        "task": "lifecycle.tasks.purge_expired_exports",
        "schedule": crontab(minute=10),
    },
    "run-due-deletions": {
        "task": "lifecycle.tasks.run_due_deletions",
        "schedule": crontab(minute="*/15"),
    },
    "remove-pending-files": {
        "task": "lifecycle.tasks.remove_pending_files",
        "schedule": crontab(minute=40),
    },
    "retention-sweep": {
        "task": "lifecycle.tasks.retention_sweep",
        "schedule": crontab(hour=2, minute=30),
    },
    "escalate-unacknowledged-erasures": {
        "task": "lifecycle.tasks.escalate_unacknowledged_erasures",
        "schedule": crontab(minute=50),
    },
    "incident-clock-sweep": {
        "task": "incidents.tasks.incident_clock_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "resume-incident-notifications": {
        "task": "incidents.tasks.resume_notifications",
        "schedule": crontab(minute="*/5"),
    },
}
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Audit log (AUD-1) ----------------------------------------------------------------------
AUDITLOG_LOGENTRY_MODEL = "audit.AuditLogEntry"
# auditlog's migrations only create its stock table, which the swap above replaces. Skipping them
# keeps an orphan table (with a foreign key to users) out of the database.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_MASK_CALLABLE = "audit.masking.redact"
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Response headers: Content-Security-Policy ----------------------------------------------
# No inline script or style anywhere (tests/test_security_headers.py keeps templates/ clean),
# so the policy needs neither 'unsafe-inline' nor a nonce. data: images are the QR codes and
# inline SVG of the staff second factor. The CSP_* environment variables are read into
# lower-case names on purpose: django-csp 4 refuses Django settings named CSP_*.
_csp_report_uri = env.str("CSP_REPORT_URI", default="")  # empty: violations are not reported
_csp_report_only = env.bool("CSP_REPORT_ONLY", default=False)  # true: report, do not block
# One absolute https URL or a path on this site: a space or ";" would add sources or directives.
_csp_uri_pattern = r"https://[^/\s;,]+(/[^\s;,]*)?|/(?!/)[^\s;,]*"
if _csp_report_uri and not re.fullmatch(_csp_uri_pattern, _csp_report_uri):
    raise ImproperlyConfigured(
        f"CSP_REPORT_URI must be one https:// URL or a path starting with /, "
        f"not {_csp_report_uri!r}"
    )
_csp_directives = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}
if _csp_report_uri:
    _csp_directives["report-uri"] = [_csp_report_uri]
if _csp_report_only:
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _csp_directives}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _csp_directives}
    CONTENT_SECURITY_POLICY_REPORT_ONLY = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # pikepdf (lib/pdfs.py) announces itself at INFO in every process that cleans a PDF.
    # Third parties that report every step at INFO (weasyprint: each stage of each report).
    "loggers": {
        "axes": {"level": "WARNING"},
        "pikepdf": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
