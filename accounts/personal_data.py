"""What the accounts app holds about people (the personal-data registry, DESIGN.md).

Users, SMS codes, sessions, django-axes' sign-in logs, real-name verification and guardians'
consents. Read by export, erasure, correction and the records of processing.
"""

from django.contrib.auth.hashers import make_password
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib.phones import e164
from lib.registry import (
    ANONYMISE,
    BLANK,
    BY_REQUEST,
    DELETE,
    KEEP,
    REPLACE,
    SELF,
    Field,
    Keep,
    registry,
)

# --- Categories ---------------------------------------------------------------------------------

registry.category(
    "account",
    _("Account"),
    _(
        "Your mobile number, date of birth, language and the dates you joined and last signed "
        "in; for staff, the second factor that protects the admin sign-in."
    ),
    _("Necessary to provide the service you signed up for (PIPL art. 13(2))."),
    _("As long as the account exists; erased when it is deleted."),
    order=10,
)
registry.category(
    "profile",
    _("Optional profile"),
    _("The e-mail address and username you chose to add."),
    _("Your consent when you added them (PIPL art. 13(1)); you can remove them at any time."),
    _("Until you remove them or delete the account."),
    erasable_on_request=True,
    order=20,
)
registry.category(
    "profile_photo",
    _("Profile photo"),
    _("The photo you chose to add to your profile, re-encoded without its EXIF data."),
    _("Your consent when you added it (PIPL art. 13(1)); you can remove it at any time."),
    _("Until you remove it or delete the account."),
    erasable_on_request=True,
    order=21,
)
registry.category(
    "linked_logins",
    _("Linked logins"),
    _(
        "The WeChat or QQ accounts you linked for signing in: the provider's identifier of you "
        "(an openid), when you linked it and when you last signed in with it."
    ),
    _("Your consent when you linked it (PIPL art. 13(1)); you can unlink it at any time."),
    _("Until you unlink it or delete the account."),
    erasable_on_request=True,
    order=22,
)
registry.category(
    "sms_codes",
    _("One-time codes"),
    _("One-time codes sent to your phone, with the network address that asked for them."),
    _("Necessary to sign you in securely (PIPL art. 13(2))."),
    _("A day after the code was sent."),
    erasable_on_request=True,
    order=81,
)
registry.category(
    "sessions",
    _("Sessions"),
    _("The sessions that keep you signed in on your devices."),
    _("Necessary to provide the service (PIPL art. 13(2))."),
    _("Until you sign out or the session expires (two weeks)."),
    erasable_on_request=True,
    order=80,
)
registry.category(
    "access_logs",
    _("Sign-in logs"),
    _("Sign-in attempts: the identifier typed, network address, browser and time."),
    _(
        "Legal obligation: network logs are kept for at least six months "
        "(Cybersecurity Law art. 21(3))."
    ),
    _("Six months after the attempt; the phone or e-mail is removed when the account is deleted."),
    order=82,
)

THREE_YEARS = 3 * 365


def _plausible_birth_date(value):
    """The same checks as at sign-up: not in the future, not more than 130 years ago."""
    from django.core.exceptions import ValidationError

    today = timezone.localdate()
    if value and value > today:
        raise ValidationError(_("The date of birth cannot be in the future."))
    if value and value.year < today.year - 130:
        raise ValidationError(_("Please check the year of birth."))


def _tombstone_ref(context):
    user = context.user
    return f"erased:{user.pk}" if user is not None else "erased"


# --- Users and sign-in ----------------------------------------------------------------------------

registry.declare(
    "accounts.User",
    "account",
    owner="pk",
    erase=ANONYMISE,
    keep=Keep(
        _(
            "A row without identifiers (a tombstone) stays, so that the records kept by law "
            "(requests, the consent ledger) still point to an account."
        )
    ),
    fields=(
        Field("phone", erase=BLANK, correct=BY_REQUEST),
        Field("date_of_birth", erase=BLANK, correct=BY_REQUEST, validate=_plausible_birth_date),
        Field("email", category="profile", erase=BLANK, correct=SELF),
        Field("username", category="profile", erase=BLANK, correct=SELF),
        Field("preferred_language", erase=KEEP, correct=SELF, keep=Keep(_("Not identifying."))),
        Field("last_login", erase=BLANK),
        Field("date_joined", erase=KEEP, keep=Keep(_("Not identifying."))),
        Field(
            "password", erase=REPLACE, replacement=lambda context: make_password(None), export=False
        ),
        Field("is_active", erase=REPLACE, replacement=False, export=False),
        # A tombstone keeps the time it was made (the "account deleted" clock of other rules).
        Field(
            "erased_at",
            erase=REPLACE,
            replacement=lambda context: Coalesce(F("erased_at"), Value(context.now)),
            export=False,
        ),
    ),
    context=("id",),
    clocks={"created": "date_joined"},
    deletable=False,  # the tombstone others point to
)

registry.declare(
    "accounts.ProfilePhoto",
    "profile_photo",
    owner="user_id",
    erase=DELETE,  # the row and its encrypted file (lifecycle.erasure removes the file)
    fields=(Field("user", export=False), Field("file")),
    context=("id", "content_type", "size", "uploaded_at"),
    not_personal={"content_type": "the photo's type (JPEG)"},
    clocks={"created": "uploaded_at"},
)

registry.declare(
    "accounts.LinkedAccount",
    "linked_logins",
    owner="user_id",
    erase=DELETE,
    fields=(Field("user", export=False), Field("external_id"), Field("last_used_at")),
    context=("provider", "linked_at"),
    clocks={"created": "linked_at"},
)

registry.declare(
    "accounts.UserSession",
    "sessions",
    owner="user_id",
    erase=DELETE,
    fields=(Field("user", export=False), Field("created_at"), Field("expires_at")),
    clocks={"created": "created_at", "closed": "expires_at"},
)


def _sessions_of(user):
    from .sessions import sessions_of

    return sessions_of(user)


def _sessions_of_users(user_ids):
    from .models import UserSession

    keys = UserSession.objects.filter(user_id__in=user_ids).values("session_key")
    return Q(session_key__in=keys)


def _users(user_ids):
    from .models import User

    return User.objects.filter(pk__in=user_ids)


def _codes_of_users(user_ids):
    return Q(phone__in=_users(user_ids).exclude(phone=None).values("phone"))


def _identifiers_of_users(user_ids):
    from .backends import ACCOUNT_KEY_PREFIX

    users = _users(user_ids)
    account_keys = users.annotate(
        lockout_key=Concat(Value(ACCOUNT_KEY_PREFIX), Cast("pk", CharField()))
    ).values("lockout_key")
    return (
        Q(username__in=account_keys)
        | Q(username__in=users.exclude(phone=None).values("phone"))
        | Q(username__in=users.exclude(email=None).values("email"))
    )


registry.declare(
    "sessions.Session",
    "sessions",
    rows=_sessions_of,
    erase=DELETE,
    fields=(Field("session_data", export=False), Field("expire_date")),
    clocks={"created": "expire_date", "closed": "expire_date"},
    owners_q=_sessions_of_users,
)


def _codes_of(user):
    from .models import PhoneCode

    if not user.phone:
        return PhoneCode.objects.none()
    return PhoneCode.objects.filter(phone=str(user.phone))


registry.declare(
    "accounts.PhoneCode",
    "sms_codes",
    rows=_codes_of,
    erase=DELETE,
    fields=(
        Field("phone"),
        Field("ip_address"),
        Field("created_at"),
        Field("used_at"),
    ),
    context=("purpose",),
    clocks={"created": "created_at", "closed": "expires_at"},
    owners_q=_codes_of_users,
)


def sign_in_identifiers(user) -> list[str]:
    """What django-axes records as the username (``accounts.backends.axes_username``): the
    account's own key, and from before there was one, the E.164 phone and the lower-case
    e-mail."""
    from .backends import account_lockout_key

    identifiers = [account_lockout_key(user)]
    if user.phone:
        identifiers.append(e164(user.phone) or str(user.phone))
    if user.email:
        identifiers.append(user.email.lower())
    return identifiers


def _axes_rows(model_label):
    def rows(user):
        from django.apps import apps

        return apps.get_model(model_label).objects.filter(username__in=sign_in_identifiers(user))

    return rows


_AXES_KEEP = Keep(
    _("Network logs are kept for six months (Cybersecurity Law art. 21(3))."), days=183
)
_axes_fields = (
    Field("username", erase=REPLACE, replacement=_tombstone_ref),
    Field("ip_address", erase=KEEP, keep=_AXES_KEEP),
    Field("user_agent", erase=KEEP, keep=_AXES_KEEP),
    Field("attempt_time", erase=KEEP),
)
_axes_clocks = {"created": "attempt_time", "closed": "attempt_time"}
_axes_not_personal = {
    "http_accept": "the browser's Accept header",
    "path_info": "the sign-in page's path",
}

registry.declare(
    # The lockout counters (one row per identifier, address and browser): deleted, since the
    # sign-in logs the law makes us keep are AccessLog and AccessFailureLog.
    "axes.AccessAttempt",
    "access_logs",
    rows=_axes_rows("axes.AccessAttempt"),
    erase=DELETE,
    fields=(
        *_axes_fields,
        # What was posted, passwords masked by django-axes; it may hold the identifier typed.
        Field("get_data", export=False),
        Field("post_data", export=False),
    ),
    not_personal=_axes_not_personal,
    clocks=_axes_clocks,
    owners_q=_identifiers_of_users,
)
registry.declare(
    "axes.AccessLog",
    "access_logs",
    rows=_axes_rows("axes.AccessLog"),
    erase=ANONYMISE,
    keep=_AXES_KEEP,
    fields=(*_axes_fields, Field("logout_time", erase=KEEP)),
    not_personal={**_axes_not_personal, "session_hash": "a hash of a session key"},
    clocks=_axes_clocks,
    owners_q=_identifiers_of_users,
)
registry.declare(
    "axes.AccessFailureLog",
    "access_logs",
    rows=_axes_rows("axes.AccessFailureLog"),
    erase=ANONYMISE,
    keep=_AXES_KEEP,
    fields=_axes_fields,
    not_personal=_axes_not_personal,
    clocks=_axes_clocks,
    owners_q=_identifiers_of_users,
)
registry.not_personal(
    "axes.AccessAttemptExpiration", "only the expiry time of a lockout, linked to the attempt"
)
registry.not_personal(
    "accounts.FormSubmission", "a used one-time form token, the page and where it led; no person"
)
registry.not_personal("auth.Group", "names of staff roles")
registry.not_personal("contenttypes.ContentType", "names of the portal's tables")
registry.not_personal("auth.Permission", "names of permissions")

# --- The staff second factor (accounts/second_factor.py) ------------------------------------------
# Part of the account: kept while it exists, deleted with it. The secret and the backup codes
# (digests) are not declared, so never exported.
for _label in ("otp_totp.TOTPDevice", "otp_static.StaticDevice"):
    registry.declare(
        _label,
        "account",
        owner="user_id",
        erase=DELETE,
        fields=(Field("user", export=False), Field("name")),
        context=("confirmed", "created_at", "last_used_at"),
        clocks={"created": "created_at"},
    )
