"""Demo data for `make run`: staff, users, requests in several states and real-name
verifications (VER-1, VER-2). Idempotent."""

import base64
import hashlib
import io
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw, ImageFont

from accounts.models import User
from incidents.demo import seed_demo_incident
from privacyportal import roles
from privacyportal.roles import sync_roles
from requests import references, workflow
from requests.models import DataSubjectRequest, RefusalGround, RequestKind, RequestState
from verification import services as verification
from verification import validators
from verification.models import Verification, VerificationDocument

DEMO_DEVICE_NAME = "Demo authenticator (published secret)"


def demo_totp_key(email: str) -> str:
    """The demo staff's authenticator secret (hex): derived from the e-mail address alone, so
    it is the same on every machine and anyone can compute it. For the demo users only."""
    return hashlib.sha1(f"privacy-portal-demo-totp:{email}".encode()).hexdigest()  # noqa: S324


def secret_text(key_hex: str) -> str:
    secret = base64.b32encode(bytes.fromhex(key_hex)).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# (e-mail, phone, who, roles, name): the roles of privacyportal/roles.py; the DPO is also
# superuser. Staff pages name people by their name (accounts/display.py).
STAFF = [
    ("dpo@example.com", "+8613800000001", "Data Protection Officer", ("dpo",), "Chen Jing"),
    (
        "agent@example.com",
        "+8613800000002",
        "Support agent and verification reviewer",
        ("agent", "reviewer"),
        "Li Wei",
    ),
    (
        "auditor@example.com",
        "+8613800000003",
        "Auditor: read-only everywhere",
        ("auditor",),
        "Zhou Hua",
    ),
]
USERS = [
    ("alice@example.com", "+8613900000001", "alice"),
    ("bob@example.com", "+8613900000002", "bob"),
    # carol has a year of answered requests behind the dashboard's chart.
    ("carol@example.com", "+8613900000003", "carol"),
]

# Checksum-valid but fictitious numbers (no real person or company). Tests grep the database
# and the audit log for them to prove they are only ever stored encrypted.
DEMO_RESIDENT_ID = "110105199003071239"  # alice: region 110105, born 1990-03-07
DEMO_LEGAL_REP_ID = "31010419850612516X"  # bob's company's legal representative
DEMO_CREDIT_CODE = "91110108MA01B2C344"  # unified social credit code of bob's company
DEMO_BANK_ACCOUNT = "6217 0012 3456 7890 122"  # UnionPay-style card, Luhn-valid, as typed
DEMO_NUMBERS = (DEMO_RESIDENT_ID, DEMO_LEGAL_REP_ID, DEMO_CREDIT_CODE, DEMO_BANK_ACCOUNT)
# Verification records the separate consent for sensitive data with what was shown (CON-3).
DEMO_SENSITIVE_CONSENT = {
    "wording": "Demo data: the verification form's consent box",
    "language": "en",
}


# Consent demo data (fictitious): purposes, policy texts and recipients, in both languages.
DEMO_PURPOSES = {
    "marketing": {
        "name_en": "Marketing messages",
        "name_zh": "营销信息",
        "description_en": "News about our services and offers, by e-mail or SMS.",
        "description_zh": "通过电子邮件或短信向您发送我们服务的新闻和优惠信息。",
        "legal_basis": "consent",
        "separate_consent": "marketing",
    },
    "personalisation": {
        "name_en": "Personalised recommendations",
        "name_zh": "个性化推荐",
        "description_en": "Suggestions based on how you use the portal.",
        "description_zh": "根据您使用本门户的方式为您提供建议。",
        "legal_basis": "consent",
        "separate_consent": "personalisation",
    },
    "cross-border-transfer": {
        "name_en": "Transfer outside mainland China",
        "name_zh": "向中国境外提供",
        "description_en": "Sending your e-mail address to our mail provider in Singapore.",
        "description_zh": "将您的电子邮件地址提供给我们位于新加坡的邮件服务商。",
        "legal_basis": "consent",
        "separate_consent": "cross_border",
    },
    "service-delivery": {
        "name_en": "Providing the service",
        "name_zh": "提供服务",
        "description_en": "Your account, sign-in and the requests you file.",
        "description_zh": "您的账号、登录以及您提交的申请。",
        "legal_basis": "contract",
        "essential": True,
    },
}
DEMO_RECIPIENTS = [
    # (name, purpose codes, fields)
    (
        "Lantern Cloud Messaging",
        ("service-delivery",),
        {
            "legal_entity": "Lantern Cloud Messaging (Hangzhou) Co., Ltd. (fictitious)",
            "purpose_en": "Sending sign-in codes and service notices by SMS",
            "purpose_zh": "通过短信发送登录验证码和服务通知",
            "scenario_en": "When you sign in with a code or a request changes",
            "scenario_zh": "当您使用验证码登录或申请状态变化时",
            "method": "server_api",
            "data_fields_en": "Mobile number, message text",
            "data_fields_zh": "手机号码、短信内容",
            "link": "https://lantern-messaging.example/privacy",
            "country": "CN",
            "data_categories": ["account", "sms_codes", "notifications"],
            "erasure_channel": "email",
            "privacy_contact": "privacy@lantern-messaging.example",
        },
    ),
    (
        "Northwind Insights",
        ("cookies-analytics", "personalisation"),
        {
            "legal_entity": "Northwind Insights (Shenzhen) Technology Co., Ltd. (fictitious)",
            "purpose_en": "Visit statistics and recommendations",
            "purpose_zh": "访问统计和推荐",
            "scenario_en": "On every page, once you accept analytics cookies",
            "scenario_zh": "在您接受分析类 Cookie 后的每个页面",
            "method": "sdk",
            "data_fields_en": "Device identifier, pages visited, browser type",
            "data_fields_zh": "设备标识符、访问的页面、浏览器类型",
            "link": "https://northwind-insights.example/privacy",
            "country": "CN",
        },
    ),
    (
        "Harbour Mail",
        ("marketing", "cross-border-transfer"),
        {
            "legal_entity": "Harbour Mail Pte. Ltd. (fictitious)",
            "purpose_en": "Sending our newsletter by e-mail",
            "purpose_zh": "通过电子邮件发送我们的新闻简报",
            "scenario_en": "When you have agreed to marketing messages",
            "scenario_zh": "在您同意接收营销信息后",
            "method": "server_api",
            "data_fields_en": "E-mail address, preferred language",
            "data_fields_zh": "电子邮件地址、首选语言",
            "link": "https://harbour-mail.example/privacy",
            "country": "SG",
            "data_categories": ["profile"],
            "erasure_channel": "email",
            "privacy_contact": "privacy@harbour-mail.example",
        },
    ),
]
DEMO_POLICIES = {
    # slug: (kind, title en, title zh, body en, body zh)
    "privacy-policy": (
        "privacy_policy",
        "Privacy policy",
        "隐私政策",
        "Sample Portal is a demo service (fictitious).\n\n"
        "1. We collect your mobile number, e-mail address and the requests you file, to run "
        "your account.\n"
        "2. With your consent we send marketing messages and personalise recommendations; you "
        "can withdraw at any time in the account center.\n"
        "3. We share data only with the recipients listed on the recipients page.\n"
        "4. Contact our data protection officer at dpo@example.com.",
        "示例门户是一个演示服务（虚构）。\n\n"
        "1. 我们收集您的手机号码、电子邮件地址以及您提交的申请，用于运行您的账号。\n"
        "2. 经您同意，我们会发送营销信息并提供个性化推荐；您可以随时在账号中心撤回同意。\n"
        "3. 我们仅向第三方信息共享页面所列的接收方提供数据。\n"
        "4. 请通过 dpo@example.com 联系我们的个人信息保护负责人。",
    ),
    "user-agreement": (
        "user_agreement",
        "User agreement",
        "用户协议",
        "These terms govern your use of Sample Portal, a demo service (fictitious).\n\n"
        "1. Keep your sign-in details to yourself.\n"
        "2. Do not use the portal to break the law.\n"
        "3. We may suspend accounts that do, and tell you why.",
        "本协议适用于您对示例门户（虚构的演示服务）的使用。\n\n"
        "1. 请妥善保管您的登录信息。\n"
        "2. 不得利用本门户从事违法活动。\n"
        "3. 对违反上述规定的账号，我们可以暂停其使用并告知原因。",
    ),
    "cookie-policy": (
        "cookie_policy",
        "Cookie policy",
        "Cookie 政策",
        "Sample Portal (fictitious) uses three kinds of cookies.\n\n"
        "1. Strictly necessary: sign-in, form protection and your language. Always on.\n"
        "2. Functional: remember your preferences. Only with your consent.\n"
        "3. Analytics: count visits. Only with your consent.\n"
        "Change your choice at any time on the cookie settings page.",
        "示例门户（虚构）使用三类 Cookie。\n\n"
        "1. 必要 Cookie：用于登录、表单保护和记住您的语言，始终启用。\n"
        "2. 功能性 Cookie：记住您的偏好，仅在您同意后使用。\n"
        "3. 分析类 Cookie：统计访问量，仅在您同意后使用。\n"
        "您可以随时在 Cookie 设置页面更改您的选择。",
    ),
}


class Command(BaseCommand):
    help = "Create demo staff, users and requests (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default="demo-pass-2026", help="Password for every demo login."
        )

    @transaction.atomic
    def handle(self, *args, password, **options):
        # The staff roles (privacyportal/roles.py; also synced after every migrate).
        sync_roles()
        groups = {
            "dpo": Group.objects.get(name=settings.DPO_GROUP_NAME),
            "agent": Group.objects.get(name=roles.SUPPORT_AGENTS),
            "reviewer": Group.objects.get(name=roles.VERIFICATION_REVIEWERS),
            "auditor": Group.objects.get(name=roles.AUDITORS),
        }

        staff = {}
        for email, phone, _label, staff_roles, name in STAFF:
            user = self._user(
                email,
                phone,
                password,
                username=name,
                is_staff=True,
                is_superuser="dpo" in staff_roles,
                preferred_language="en",
            )
            user.groups.add(*(groups[role] for role in staff_roles))
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
        self._consent(alice, bob, dpo)
        self._legal_hold(alice, dpo)
        self._answered_history(users["carol@example.com"])
        # A breach incident concerning alice and bob, ready for the DPO to notify (SEC-1).
        seed_demo_incident()

        for user in staff.values():
            self._demo_authenticator(user)

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):"))
        self.stdout.write("  admin  http://127.0.0.1:8000/admin/")
        for email, phone, label, *_rest in STAFF:
            self.stdout.write(f"    {email:<20} {phone}  {label}")
        self.stdout.write(
            "  The admin also asks for a second factor. DEMO ONLY: the demo staff's authenticator "
            "secrets below are fixed and published, the same on every machine; real staff set up "
            "their own at their first sign-in. Get the current code with\n"
            "    python manage.py demo_otp_code dpo@example.com\n"
            "  or add a secret to an authenticator app:"
        )
        for email, *_rest in STAFF:
            self.stdout.write(f"    {email:<20} {secret_text(demo_totp_key(email))}")
        self.stdout.write("  account center  http://127.0.0.1:8000/account/")
        for email, phone, _username in USERS:
            self.stdout.write(f"    {email:<20} {phone}  (or sign in with an SMS code)")

    def _demo_authenticator(self, user):
        """A confirmed authenticator with the published demo secret (see demo_totp_key)."""
        device, _ = TOTPDevice.objects.get_or_create(
            user=user,
            name=DEMO_DEVICE_NAME,
            defaults={"key": demo_totp_key(user.email), "confirmed": True},
        )
        if device.key != demo_totp_key(user.email) or not device.confirmed:
            device.key, device.confirmed = demo_totp_key(user.email), True
            device.save(update_fields=["key", "confirmed"])

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

    def _answered_history(self, requester):
        """A year of answered requests (carol's), so that the dashboard's chart of the share
        answered on time and the monthly report have figures: a few a month, some late, one
        refused. Written as finished records (their timelines are not part of the demo)."""
        if requester.data_requests.exists():
            return
        now = timezone.now()
        kinds = [RequestKind.ACCESS, RequestKind.COPY, RequestKind.CORRECT, RequestKind.DELETE_DATA]
        rows = []
        for month in range(1, 12):
            for i in range(2 + month % 3):
                received = now - timedelta(days=30 * month + 3 * i + 1)
                due = received + timedelta(days=15)
                late = (month + i) % 7 == 0
                closed = due + timedelta(days=2) if late else received + timedelta(days=4 + i)
                refused = month == 5 and i == 0
                rows.append(
                    DataSubjectRequest(
                        reference=references.generate(timezone.localtime(received).year),
                        kind=kinds[(month + i) % len(kinds)],
                        state=RequestState.REFUSED if refused else RequestState.COMPLETED,
                        requester=requester,
                        subject=f"Demo request {month}-{i}",
                        description="A request answered earlier this year (demo history).",
                        received_at=received,
                        acknowledged_at=received + timedelta(hours=2),
                        due_at=due,
                        original_due_at=due,
                        closed_at=closed,
                        answered_on_time=not late,
                        resolution="Answered (demo history).",
                        refusal_ground=RefusalGround.ABUSE_OF_RIGHTS if refused else "",
                        refusal_reason="The same request was answered a week earlier."
                        if refused
                        else "",
                    )
                )
        DataSubjectRequest.objects.bulk_create(rows)

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

    # -- Consent (CON-1..4, POL-1, SHR-1): purposes, policies, recipients, decisions --------

    def _consent(self, alice, bob, dpo):
        """Idempotent: rows are found by their natural keys, versions published once, and the
        demo decisions recorded only while alice and bob have none from the web or sign-up."""
        from consent import cookies, ledger, policies
        from consent.models import ConsentEvent, PolicyDocument, PolicyVersion, Purpose, Recipient

        purposes = {p.code: p for p in cookies.ensure_cookie_purposes().values()}
        for code, defaults in DEMO_PURPOSES.items():
            purposes[code], _created = Purpose.objects.get_or_create(code=code, defaults=defaults)
        # Active before the policy's effective date, so version 1 discloses them (SHR-1).
        since = timezone.localdate() - timedelta(days=60)
        for name, codes, contents in DEMO_RECIPIENTS:
            recipient, _created = Recipient.objects.get_or_create(
                name=name, defaults={**contents, "active_from": since}
            )
            recipient.purposes.add(*(purposes[code] for code in codes))
            # Databases seeded before these fields existed get them once.
            missing = {
                key: contents[key]
                for key in ("data_categories", "erasure_channel", "privacy_contact")
                if key in contents and not getattr(recipient, key)
            }
            if missing:
                for key, value in missing.items():
                    setattr(recipient, key, value)
                recipient.save(update_fields=list(missing))
        versions = {}
        for slug, (kind, title_en, title_zh, body_en, body_zh) in DEMO_POLICIES.items():
            document, _created = PolicyDocument.objects.get_or_create(
                slug=slug, defaults={"kind": kind, "title_en": title_en, "title_zh": title_zh}
            )
            version, _created = PolicyVersion.objects.get_or_create(
                document=document,
                number=1,
                defaults={
                    "body_en": body_en,
                    "body_zh": body_zh,
                    "summary_en": "First version.",
                    "summary_zh": "首个版本。",
                    "effective_at": timezone.now() - timedelta(days=30),
                },
            )
            if not version.is_published:
                policies.publish(version, dpo)
            versions[slug] = version

        decided = ConsentEvent.objects.filter(
            user__in=[alice, bob],
            channel__in=[ConsentEvent.Channel.SIGNUP, ConsentEvent.Channel.WEB],
            purpose__code__in=list(DEMO_PURPOSES),  # not the verifications' own consent
        )
        if decided.exists():
            return
        shown = versions["privacy-policy"]
        grant, withdraw = ConsentEvent.Action.GRANT, ConsentEvent.Action.WITHDRAW
        now = timezone.now()
        for user, action, code, channel, days_ago in [
            (alice, grant, "marketing", ConsentEvent.Channel.SIGNUP, 20),
            (alice, grant, "personalisation", ConsentEvent.Channel.SIGNUP, 20),
            (alice, withdraw, "marketing", ConsentEvent.Channel.WEB, 2),
            (bob, grant, "cross-border-transfer", ConsentEvent.Channel.WEB, 10),
        ]:
            ledger.record(
                action=action,
                channel=channel,
                user=user,
                purpose=purposes[code],
                policy_version=shown,
                evidence={"wording": "Demo data", "language": "en"},
                now=now - timedelta(days=days_ago),
            )

    def _legal_hold(self, alice, dpo):
        """A hold on alice's answered request (she complained about the answer), so the DPO
        sees one in the admin; it blocks nothing of the demo walkthrough (RET-2)."""
        from lifecycle.models import LegalHold

        answered = alice.data_requests.filter(state="completed").order_by("pk").first()
        if answered is None or LegalHold.objects.filter(request=answered).exists():
            return
        LegalHold.objects.create(
            scope=LegalHold.Scope.REQUEST,
            request=answered,
            reason="Demo: alice complained to the authority about this answer; keep the file "
            "until the complaint is closed.",
            ends_at=timezone.now() + timedelta(days=365),
            created_by=dpo,
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
            sensitive_consent=DEMO_SENSITIVE_CONSENT,
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
            sensitive_consent=DEMO_SENSITIVE_CONSENT,
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
