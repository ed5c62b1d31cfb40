"""The messages of the lifecycle app, one function per message, each returning an outbox draft
in the recipient's language (or None when there is nobody to write to)."""

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from notifications.services import Draft, render


def _url(name, *args) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(name, args=args)


def _date(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


def export_ready(export):
    """The user's data is ready to download."""
    user = export.user
    if not user.email:
        return None

    def subject():
        return _("Your personal data is ready to download")

    def body():
        return _(
            "The copy of your personal data that you asked for is ready. Download it in the "
            "account center before %(date)s; after that it is deleted.\n\n%(url)s"
        ) % {"date": _date(export.expires_at), "url": _url("lifecycle:data")}

    subject_text, body_text = render(user.preferred_language, subject, body)
    return Draft(f"export:{export.pk}:ready", user.pk, user.email, subject_text, body_text)


def deletion_scheduled(deletion):
    """The account will be deleted after the cooling-off period, unless the user cancels."""
    user = deletion.user
    if not user.email:
        return None

    def subject():
        return _("Your account will be deleted on %(date)s") % {
            "date": _date(deletion.execute_after)
        }

    def body():
        return _(
            "We have received the request to delete your account. It will be deleted on "
            "%(date)s, with the personal data we hold about you, except what the law requires "
            "us to keep for a limited time.\n\n"
            "Changed your mind? Sign in before then and cancel the deletion.\n\n"
            "After the deletion, the code %(code)s lets anyone check the deletion certificate "
            "at %(url)s (it shows dates and categories of data only)."
        ) % {
            "date": _date(deletion.execute_after),
            "code": deletion.code,
            "url": _url("lifecycle:certificate"),
        }

    subject_text, body_text = render(user.preferred_language, subject, body)
    return Draft(f"deletion:{deletion.pk}:scheduled", user.pk, user.email, subject_text, body_text)


def deletion_cancelled(deletion):
    user = deletion.user
    if not user.email:
        return None

    def subject():
        return _("The deletion of your account is cancelled")

    def body():
        return _(
            "You cancelled the deletion of your account. Nothing has been deleted and you can go "
            "on using it. If this was not you, change your password and contact us."
        )

    subject_text, body_text = render(user.preferred_language, subject, body)
    return Draft(f"deletion:{deletion.pk}:cancelled", user.pk, user.email, subject_text, body_text)
