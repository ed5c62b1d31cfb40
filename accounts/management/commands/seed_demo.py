"""Demo data for `make run`: staff, users, requests in several states and real-name
verifications (VER-1, VER-2). Idempotent."""

import io
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts import validators, verification
from accounts.models import User, Verification, VerificationDocument
from requests import workflow
from requests.models import DataSubjectRequest, RequestKind

STAFF = [
    ("dpo@example.com", "+8613800000001", "Data Protection Officer", True),
    ("agent@example.com", "+8613800000002", "Support agent and verification reviewer", False),
]
USERS = [
    ("alice@example.com", "+8613900000001", "alice"),
    ("bob@example.com", "+8613900000002", "bob"),
]

# Checksum-valid but fictitious numbers (no real person or company). Tests grep the database
# and the audit log for them to prove they are only ever stored encrypted.
DEMO_RESIDENT_ID = "110105199003071239"  # alice: region 110105, born 1990-03-07
DEMO_LEGAL_REP_ID = "31010419850612516X"  # bob's company's legal representative
DEMO_CREDIT_CODE = "91110108MA01B2C344"  # unified social credit code of bob's company
DEMO_BANK_ACCOUNT = "6217 0012 3456 7890 122"  # UnionPay-style card, Luhn-valid, as typed
DEMO_NUMBERS = (DEMO_RESIDENT_ID, DEMO_LEGAL_REP_ID, DEMO_CREDIT_CODE, DEMO_BANK_ACCOUNT)

AGENT_PERMISSIONS = [
    "view_datasubjectrequest",
    "change_datasubjectrequest",
    "add_datasubjectrequest",
    "view_requestmessage",
    "view_user",
    "view_calendaroverride",
]
# Named reviewers of real-name verification: the second pair of eyes for enterprises, allowed
# to see unmasked numbers and documents (VER-4).
REVIEWER_PERMISSIONS = [
    "view_verification",
    "change_verification",
    "view_verificationdocument",
    "view_guardianconsent",
    "change_guardianconsent",
    "view_sensitive_data",
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
        reviewers, _ = Group.objects.get_or_create(name="Verification reviewers")
        reviewers.permissions.set(Permission.objects.filter(codename__in=REVIEWER_PERMISSIONS))

        staff = {}
        for email, phone, _label, is_dpo in STAFF:
            user = self._user(
                email, phone, password, is_staff=True, is_superuser=is_dpo, preferred_language="en"
            )
            user.groups.add(dpo_group if is_dpo else agents)
            if not is_dpo:
                user.groups.add(reviewers)
            staff[email] = user
        users = {
            email: self._user(email, phone, password, username=username, preferred_language="en")
            for email, phone, username in USERS
        }
        alice, bob = users["alice@example.com"], users["bob@example.com"]
        dpo, agent = staff["dpo@example.com"], staff["agent@example.com"]

        if not DataSubjectRequest.objects.filter(requester__in=[alice, bob]).exists():
            self._requests(alice, bob, dpo, agent)
        if not alice.verifications.exists():
            self._individual_verification(alice, dpo)
        if not bob.verifications.exists():
            self._enterprise_verification(bob)

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

    # -- Real-name verification (VER-1, VER-2): through the same code as the account center --

    def _individual_verification(self, alice, dpo):
        """alice: a resident ID, front and back images, approved by the DPO."""
        documents = verification.validate_documents(
            {
                VerificationDocument.Kind.ID_FRONT: sample_image("id-front.png", "ID CARD FRONT"),
                VerificationDocument.Kind.ID_BACK: sample_image("id-back.png", "ID CARD BACK"),
            }
        )
        record = verification.submit(
            alice,
            kind=Verification.Kind.INDIVIDUAL,
            documents=documents,
            legal_name="Alice Sample",
            document_type=Verification.DocumentType.RESIDENT_ID,
            document_number=validators.validate_resident_id(DEMO_RESIDENT_ID),
        )
        verification.approve(record, dpo)

    def _enterprise_verification(self, bob):
        """bob: a company waiting for review (four-eyes approval in the admin)."""
        documents = verification.validate_documents(
            {
                VerificationDocument.Kind.LICENCE: sample_image(
                    "licence.png", "BUSINESS LICENCE", size=(800, 560)
                ),
            }
        )
        verification.submit(
            bob,
            kind=Verification.Kind.ENTERPRISE,
            documents=documents,
            company_name="Sample Trading (Beijing) Co., Ltd.",
            credit_code=validators.validate_uscc(DEMO_CREDIT_CODE),
            legal_rep_name="Bob Sample",
            legal_rep_id_number=validators.validate_resident_id(DEMO_LEGAL_REP_ID),
            bank_name="Sample Bank",
            bank_branch="Haidian Branch",
            bank_account=validators.validate_bank_account(DEMO_BANK_ACCOUNT),
        )


def sample_image(name, title, size=(640, 400)):
    """A plain card-like PNG that says SAMPLE: made at run time, nobody's real data."""
    img = Image.new("RGB", size, (236, 240, 245))
    draw = ImageDraw.Draw(img)
    width, height = size
    draw.rounded_rectangle(
        (10, 10, width - 10, height - 10), radius=24, outline=(90, 110, 140), width=4
    )
    draw.rectangle((40, 90, 200, 290), fill=(200, 208, 220))  # photo placeholder
    try:
        big, small = ImageFont.load_default(size=56), ImageFont.load_default(size=22)
    except (AttributeError, OSError, TypeError):  # Pillow without FreeType
        big = small = ImageFont.load_default()
    draw.text((240, 110), "SAMPLE", fill=(180, 30, 30), font=big)
    draw.text((240, 190), title, fill=(40, 40, 40), font=small)
    draw.text((240, 230), "Demo data - not a real document", fill=(80, 80, 80), font=small)
    out = io.BytesIO()
    img.save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")
