"""A demo breach incident (SEC-1), for ``seed_demo``: an incident detected a day ago that
concerns the demo users alice and bob, linked to a security report from bob, with its notice
written in both languages and nobody notified yet, so the demo DPO can run the notification
from the admin. Idempotent: a second call changes nothing."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from requests import workflow
from requests.models import DataSubjectRequest, RequestKind

from . import selection
from .models import AffectedPerson, Incident

DEMO_TITLE = "Demo: exported support tickets reachable by a public link"
DEMO_PEOPLE = ("alice@example.com", "bob@example.com")


def _security_report(user):
    report = DataSubjectRequest.objects.filter(
        requester=user, kind=RequestKind.SECURITY_REPORT
    ).first()
    if report is None:
        report = workflow.file_request(
            requester=user,
            kind=RequestKind.SECURITY_REPORT,
            subject="A link to someone else's support ticket",
            description=(
                "A search engine showed me a link to a support ticket with another customer's "
                "phone number. I think your ticket export is public."
            ),
            channel="web",
            received_at=timezone.now() - timedelta(days=1, hours=2),
        )
    return report


def seed_demo_incident(stdout=None):
    """Create the demo incident once; returns it."""
    existing = Incident.objects.filter(title=DEMO_TITLE).first()
    if existing is not None:
        return existing
    people = list(get_user_model().objects.filter(email__in=DEMO_PEOPLE, is_active=True))
    with transaction.atomic():
        incident = Incident.objects.create(
            title=DEMO_TITLE,
            severity=Incident.Severity.HIGH,
            state=Incident.State.CONTAINED,
            detected_at=timezone.now() - timedelta(days=1),
            data_categories=[c for c in ("account", "requests") if c in selection.category_codes()],
            description=(
                "An export of support tickets was stored with a public link for 6 hours. A user "
                "reported it (security report linked below). Access logs show 3 downloads."
            ),
            containment=(
                "Link revoked and file deleted 40 minutes after the report; all export links "
                "rotated; search engines asked to drop the cached copy."
            ),
            notice_summary_en=(
                "For six hours, a file with some support tickets could be opened by anyone who "
                "had its link. Your ticket was in that file."
            ),
            notice_summary_zh=(
                "在六个小时内，任何获得链接的人都可以打开一个包含部分工单的文件。您的工单也在其中。"
            ),
            notice_measures_en=(
                "We removed the file and the link within 40 minutes of learning of it, changed "
                "how exports are stored and reported the incident to the regulator."
            ),
            notice_measures_zh=(
                "我们在得知后 40 分钟内删除了该文件和链接，"
                "改进了导出文件的存储方式，并已向监管部门报告。"
            ),
        )
        if people:
            selection.add_people(incident, [u.pk for u in people], AffectedPerson.Source.DEMO, None)
        bob = next((u for u in people if u.email == "bob@example.com"), None)
        if bob is not None:
            incident.reports.add(_security_report(bob))
    if stdout is not None:
        stdout.write(
            f"Demo incident {incident.reference}: {len(people)} people affected, not yet "
            "notified (admin > Breach incidents > Notify the people affected)."
        )
    return incident
