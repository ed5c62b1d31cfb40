"""The messages of the incidents app, one function per message (SEC-1).

- ``notice_sections``: the notice to a person affected (what happened, which data, what the
  platform did, what they can do, how to reach the DPO) in their language; the e-mail, the SMS
  and the account center's announcement all say the same thing.
- ``people_drafts``: the outbox drafts of that notice for one person (keys
  ``incident:<id>:<user id>:<channel>``).
- ``clock_warning``: to the DPO, a clock near or past its deadline (keys
  ``incident:<id>:clock:...``).
"""

from datetime import UTC

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from lib.registry import registry
from notifications.models import Notification
from notifications.services import Draft, render

from . import clocks

KEY_PREFIX = "incident:"


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _local(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def notice_url(incident) -> str:
    return _absolute(reverse("incidents:notice", args=[incident.pk]))


def _pick(incident, name: str, chinese: bool) -> str:
    english = getattr(incident, f"{name}_en", "") or ""
    chinese_text = getattr(incident, f"{name}_zh", "") or ""
    return (chinese_text if chinese else english) or english or chinese_text


def missing_texts(incident) -> list[str]:
    """The notice texts needed before people can be told (both languages)."""
    names = ("notice_summary_en", "notice_summary_zh", "notice_measures_en", "notice_measures_zh")
    return [
        str(incident._meta.get_field(name).verbose_name)
        for name in names
        if not (getattr(incident, name) or "").strip()
    ]


def _categories_text(incident) -> str:
    categories = registry.categories
    lines = [
        f"- {categories[code].label}: {categories[code].description}"
        for code in incident.data_categories or []
        if code in categories
    ]
    if not lines:
        return _("We are still establishing which of your data is concerned; we will tell you.")
    return "\n".join(str(line) for line in lines)


def notice_sections(incident, language: str | None) -> list[tuple[str, str]]:
    """(heading, text) of the notice, in ``language`` ("en" or "zh-hans")."""
    language = language or settings.LANGUAGE_CODE
    chinese = language.startswith("zh")
    with translation.override(language):
        advice = _pick(incident, "notice_advice", chinese) or _(
            "Be wary of messages and calls that mention this incident or ask for passwords, "
            "codes or payments; we never ask for them. Change your password if you use it "
            "elsewhere, and watch your accounts for anything unusual."
        )
        sections = [
            (
                _("What happened"),
                _pick(incident, "notice_summary", chinese)
                + "\n"
                + _("We learnt of it on %(when)s.") % {"when": _local(incident.detected_at)},
            ),
            (_("Which of your data"), _categories_text(incident)),
            (_("What we have done"), _pick(incident, "notice_measures", chinese)),
            (_("What you can do"), advice),
            (
                _("How to reach us"),
                _(
                    "Our Data Protection Officer answers your questions at %(dpo)s. You can also "
                    "file a request in the account center: %(url)s"
                )
                % {
                    "dpo": settings.DPO_EMAIL,
                    "url": _absolute(reverse("requests:new")),
                },
            ),
        ]
        return [(str(heading), str(text)) for heading, text in sections]


def _subject(incident):
    return _("Security incident %(ref)s: your personal data is concerned") % {
        "ref": incident.reference
    }


def _body(incident, language):
    parts = [
        _(
            "We are writing to tell you about a security incident at our platform that concerns "
            "your personal data."
        )
    ]
    parts += [f"{heading}\n{text}" for heading, text in notice_sections(incident, language)]
    parts.append(
        _("Read this notice in the account center: %(url)s") % {"url": notice_url(incident)}
    )
    return "\n\n".join(str(p) for p in parts)


def _sms(incident):
    return _(
        "Security incident %(ref)s concerns your personal data. What happened and what you can do:"
    ) % {"ref": incident.reference}


def key(incident_id: int, user_id: int, channel: str) -> str:
    return f"{KEY_PREFIX}{incident_id}:{user_id}:{channel}"


def people_drafts(incident, person: dict, by_email: bool, by_sms: bool) -> list[Draft]:
    """The outbox drafts notifying one person (``person``: id, email, phone, language). By
    e-mail: a person without an address gets it by SMS (the outbox does this), unless the SMS
    channel is chosen too, which then reaches them."""
    language = person["preferred_language"] or settings.LANGUAGE_CODE
    subject, body = render(language, lambda: _subject(incident), lambda: _body(incident, language))
    with translation.override(language):
        sms = str(_sms(incident))
    drafts = []
    if by_email and (person["email"] or not by_sms):
        drafts.append(
            Draft(
                key=key(incident.pk, person["id"], "email"),
                recipient_id=person["id"],
                to_email=person["email"] or "",
                subject=subject,
                body=body,
                sms=sms,
                priority=Notification.Priority.SERVICE,
            )
        )
    if by_sms and person["phone"]:
        drafts.append(
            Draft(
                key=key(incident.pk, person["id"], "sms"),
                recipient_id=person["id"],
                to_email="",
                subject=subject,
                body=body,
                channel=Notification.Channel.SMS,
                to_phone=str(person["phone"]),
                sms=sms,
                priority=Notification.Priority.SERVICE,
            )
        )
    return drafts


# --- To the DPO -----------------------------------------------------------------------------------


def clock_warning(incident, clock: str, band: str, staff) -> Draft:
    """A clock of ``incident`` is near its deadline (``band`` = hours, e.g. "24") or past it
    (``band`` = "overdue"). One per deadline, band and recipient: the key holds the deadline,
    so a moved deadline is warned about again."""
    due_field, _stop = clocks.FIELDS[clock]
    due_at = getattr(incident, due_field)

    def subject():
        what = (
            _("report to the regulator")
            if clock == clocks.REGULATOR
            else _("notify the people affected")
        )
        if band == "overdue":
            return _("Overdue: incident %(ref)s, %(what)s") % {
                "ref": incident.reference,
                "what": what,
            }
        return _("Incident %(ref)s: %(what)s within %(hours)s hours") % {
            "ref": incident.reference,
            "what": what,
            "hours": band,
        }

    def body():
        if clock == clocks.REGULATOR:
            text = _("The incident “%(title)s” must be reported to the regulator by %(due)s.")
        else:
            text = _("The people affected by the incident “%(title)s” must be notified by %(due)s.")
        text = text % {"title": incident.title, "due": _local(due_at)}
        if band == "overdue":
            text += "\n" + _("This deadline has passed.")
        url = _absolute(reverse("admin:incidents_incident_change", args=[incident.pk]))
        return f"{text}\n\n{url}"

    subject_text, body_text = render(staff.preferred_language, subject, body)
    stamp = due_at.astimezone(UTC).strftime("%Y%m%dT%H%M")
    return Draft(
        key=f"{KEY_PREFIX}{incident.pk}:clock:{clock}:{band}:{stamp}:{staff.pk or 'dpo-mailbox'}",
        recipient_id=staff.pk,
        to_email=staff.email or "",
        subject=subject_text,
        body=body_text,
    )
