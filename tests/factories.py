"""Factories for every model the tests create. Requests are filed through the workflow, so a
factory-made request has the same deadline, reference and first event as a real one."""

import datetime

import factory
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from accounts.models import User
from requests import workflow
from requests.models import CalendarOverride, CalendarYear, DataSubjectRequest, RequestKind

PASSWORD = "correct-horse-battery"  # noqa: S105 - test fixture


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=80)
    preferred_language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    is_staff = True

    @factory.post_generation
    def request_permissions(obj, create, extracted, **kwargs):
        """Staff who work requests: view/change/add on requests and view on users."""
        if not create:
            return
        codenames = [
            "view_datasubjectrequest",
            "change_datasubjectrequest",
            "add_datasubjectrequest",
            "view_user",
        ]
        obj.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


class DpoFactory(StaffFactory):
    email = factory.Sequence(lambda n: f"dpo{n}@example.com")

    @factory.post_generation
    def dpo_group(obj, create, extracted, **kwargs):
        if create:
            group, _ = Group.objects.get_or_create(name=settings.DPO_GROUP_NAME)
            obj.groups.add(group)


class DataSubjectRequestFactory(factory.Factory):
    """Builds kwargs for ``workflow.file_request`` and files the request."""

    class Meta:
        model = DataSubjectRequest

    requester = factory.SubFactory(UserFactory)
    kind = RequestKind.ACCESS
    subject = factory.Sequence(lambda n: f"Request subject {n}")
    description = "Please show me the personal data you hold about me."
    channel = "web"
    received_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, **kwargs):
        return workflow.file_request(**kwargs)

    _build = _create


class CalendarOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarOverride

    date = factory.Sequence(lambda n: datetime.date(2030, 1, 1) + datetime.timedelta(days=n))
    is_workday = False
    note = "Test override"


class CalendarYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarYear

    year = factory.Sequence(lambda n: 2030 + n)


# --- Verification (VER-1..4) and guardians (MIN-1) ------------------------------------------------

# Checksum-valid but fictitious numbers.
RESIDENT_ID = "11010519491231002X"
USCC = "91350100M000100Y43"
BANK_CARD = "6222020200112233446"  # Luhn-valid


class VerificationFactory(factory.django.DjangoModelFactory):
    """A submitted individual verification without documents."""

    class Meta:
        model = "verification.Verification"

    user = factory.SubFactory(UserFactory)
    kind = "individual"
    status = "submitted"
    legal_name = "Zhang San"
    document_type = "resident_id"
    document_number = RESIDENT_ID


class EnterpriseVerificationFactory(VerificationFactory):
    kind = "enterprise"
    legal_name = ""
    document_type = ""
    document_number = ""
    company_name = "Example Technology Co., Ltd."
    credit_code = USCC
    legal_rep_name = "Li Si"
    legal_rep_id_number = RESIDENT_ID
    bank_name = "Example Bank"
    bank_branch = "Haidian Branch"
    bank_account = BANK_CARD


class GuardianConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "verification.GuardianConsent"

    child = factory.SubFactory(UserFactory)
    guardian_name = "Wang Wu"
    guardian_phone = factory.Sequence(lambda n: f"+86137{n:08d}")
    relationship = "Parent"


# --- Consent (CON-*, POL-1, SHR-1) ---------------------------------------------------------------


class PurposeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "consent.Purpose"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"purpose-{n}")
    name_en = factory.LazyAttribute(lambda o: f"Purpose {o.code}")
    name_zh = factory.LazyAttribute(lambda o: f"目的 {o.code}")
    description_en = "What we do with the data for this purpose."
    description_zh = "我们为此目的如何处理数据。"
    legal_basis = "consent"
    essential = False


class PolicyDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "consent.PolicyDocument"
        django_get_or_create = ("slug",)

    slug = "privacy-policy"
    kind = "privacy_policy"
    title_en = "Privacy policy"
    title_zh = "隐私政策"


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "consent.PolicyVersion"

    document = factory.SubFactory(PolicyDocumentFactory)
    number = factory.Sequence(lambda n: n + 1)
    body_en = "We process your personal data only for the purposes listed here."
    body_zh = "我们仅为此处列出的目的处理您的个人信息。"
    summary_en = "First version."
    summary_zh = "第一版。"


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "consent.Recipient"

    name = factory.Sequence(lambda n: f"Example Analytics {n}")
    legal_entity = "Example Analytics Co., Ltd."
    purpose_en = "Usage statistics"
    purpose_zh = "使用情况统计"
    method = "sdk"
    data_fields_en = "Device identifier, pages visited"
    data_fields_zh = "设备标识符、访问的页面"
    country = "CN"


# --- Breach incidents (SEC-1) ---------------------------------------------------------------------


class IncidentFactory(factory.django.DjangoModelFactory):
    """An open incident detected now, its notice written in both languages."""

    class Meta:
        model = "incidents.Incident"

    title = factory.Sequence(lambda n: f"Incident {n}: misconfigured storage bucket")
    severity = "high"
    detected_at = factory.LazyFunction(timezone.now)
    data_categories = factory.LazyFunction(lambda: ["account"])
    description = "A storage bucket with exports was publicly readable."
    containment = "Bucket made private; keys rotated."
    notice_summary_en = "A file with some of your account data could be read by others."
    notice_summary_zh = "一个包含您部分账户数据的文件曾可被他人读取。"
    notice_measures_en = "We closed the access and checked who read the file."
    notice_measures_zh = "我们已关闭访问并核查了读取记录。"


class AffectedPersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.AffectedPerson"

    incident = factory.SubFactory(IncidentFactory)
    user = factory.SubFactory(UserFactory)
    source = "query"
