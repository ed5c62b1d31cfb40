"""Demo data for `make run`: staff, users and requests in several states. Idempotent."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from requests import workflow
from requests.models import DataSubjectRequest, RequestKind

STAFF = [
    ("dpo@example.com", "+8613800000001", "Data Protection Officer", True),
    ("agent@example.com", "+8613800000002", "Support agent", False),
]
USERS = [
    ("alice@example.com", "+8613900000001", "alice"),
    ("bob@example.com", "+8613900000002", "bob"),
]

AGENT_PERMISSIONS = [
    "view_datasubjectrequest",
    "change_datasubjectrequest",
    "add_datasubjectrequest",
    "view_requestmessage",
    "view_user",
    "view_calendaroverride",
]


class Command(BaseCommand):
    help = "Create demo staff, users and requests (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default="demo-pass-2026", help="Password for every demo login."
        )

    @transaction.atomic
    def handle(self, *args, password, **options):
        dpo_group, _ = Group.objects.get_or_create(name=settings.DPO_GROUP_NAME)
        agents, _ = Group.objects.get_or_create(name="Support agents")
        agents.permissions.set(Permission.objects.filter(codename__in=AGENT_PERMISSIONS))

        staff = {}
        for email, phone, _label, is_dpo in STAFF:
            user = self._user(email, phone, password, is_staff=True, is_superuser=is_dpo)
            user.groups.add(dpo_group if is_dpo else agents)
            staff[email] = user
        users = {
            email: self._user(email, phone, password, username=username, preferred_language="en")
            for email, phone, username in USERS
        }
        alice, bob = users["alice@example.com"], users["bob@example.com"]
        dpo, agent = staff["dpo@example.com"], staff["agent@example.com"]

        if not DataSubjectRequest.objects.filter(requester__in=[alice, bob]).exists():
            self._requests(alice, bob, dpo, agent)

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):"))
        self.stdout.write("  admin  http://127.0.0.1:8000/admin/")
        for email, phone, label, _ in STAFF:
            self.stdout.write(f"    {email:<20} {phone}  {label}")
        self.stdout.write("  account center  http://127.0.0.1:8000/account/")
        for email, phone, _username in USERS:
            self.stdout.write(f"    {email:<20} {phone}  (or sign in with an SMS code)")

    def _user(self, email, phone, password, **extra):
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(phone=phone, email=email, password=password, **extra)
        else:
            user.set_password(password)
            for key, value in extra.items():
                setattr(user, key, value)
            user.save()
        return user

    def _requests(self, alice, bob, dpo, agent):
        now = timezone.now()
        # New, not yet acknowledged: the sweep will confirm receipt.
        workflow.file_request(
            requester=alice,
            kind=RequestKind.COPY,
            subject="A copy of my data",
            description="Please send me a copy of all personal data you hold about me.",
        )
        # In progress, assigned to the agent, due in two days.
        req = workflow.file_request(
            requester=bob,
            kind=RequestKind.CORRECT,
            subject="Wrong e-mail address on my invoices",
            description="My invoices still show my old e-mail address.",
            received_at=now - timedelta(days=13),
        )
        workflow.start(req, agent)
        # Waiting for the requester.
        req = workflow.file_request(
            requester=alice,
            kind=RequestKind.DELETE_DATA,
            subject="Delete my chat history",
            description="Please delete the chat history of my old project.",
            received_at=now - timedelta(days=4),
        )
        workflow.start(req, dpo)
        workflow.ask_requester(req, dpo, "Which project do you mean? Please give its name.")
        # Overdue: received by e-mail, entered by staff.
        workflow.file_request(
            requester=bob,
            kind=RequestKind.EXPLAIN,
            subject="How do you use my data for recommendations?",
            description="Received by e-mail to the DPO.",
            channel="email",
            entered_by=agent,
            received_at=now - timedelta(days=20),
        )
        # Completed on time.
        req = workflow.file_request(
            requester=alice,
            kind=RequestKind.ACCESS,
            subject="What data do you hold?",
            description="I would like to see what you store about me.",
            received_at=now - timedelta(days=6),
        )
        workflow.start(req, dpo)
        workflow.complete(
            req, dpo, "We have attached a summary of the data we hold to this answer."
        )
        # Refused on one of the eight grounds.
        req = workflow.file_request(
            requester=bob,
            kind=RequestKind.DELETE_DATA,
            subject="Delete my payment records",
            description="Delete all payment records for my account.",
            received_at=now - timedelta(days=3),
        )
        workflow.refuse(
            req,
            dpo,
            "legal_obligation",
            "Payment records must be kept for the period set by accounting law.",
        )
