"""What the verification app holds about people (the personal-data registry, DESIGN.md):
real-name verifications, their documents and guardians' consents."""

from django.utils.translation import gettext_lazy as _

from lib.registry import (
    ANONYMISE,
    BLANK,
    DELETE,
    ERASED,
    KEEP,
    REPLACE,
    Field,
    Keep,
    actor,
    registry,
)

THREE_YEARS = 3 * 365

registry.category(
    "verification",
    _("Real-name verification"),
    _(
        "Your legal name, identity document number, student ID and institution, or your company's "
        "name, credit code, legal representative and bank account."
    ),
    _("Legal obligation to verify real identities (Cybersecurity Law art. 24), and your consent."),
    _("As long as the account exists; erased when it is deleted or on request."),
    erasable_on_request=True,
    order=30,
)

registry.category(
    "verification_documents",
    _("Identity documents"),
    _("The images of identity cards, passports, student IDs or business licences you uploaded."),
    _("Legal obligation to verify real identities (Cybersecurity Law art. 24), and your consent."),
    _("30 days after the decision on the verification."),
    erasable_on_request=True,
    order=31,
)

registry.category(
    "guardian",
    _("Guardian's consent"),
    _("For a child under 14: the guardian's name, phone number and relationship."),
    _("Legal obligation: a guardian's consent for children under 14 (PIPL art. 31)."),
    _("As long as the account exists; the record of the consent, without names, 3 years more."),
    order=35,
)


registry.declare(
    "verification.Verification",
    "verification",
    owner="user_id",
    erase=DELETE,
    fields=(
        Field("legal_name"),
        Field("document_number"),
        Field("student_id"),
        Field("institution"),
        Field("company_name"),
        Field("credit_code"),
        Field("legal_rep_name"),
        Field("legal_rep_id_number"),
        Field("bank_name"),
        Field("bank_branch"),
        Field("bank_account"),
        Field("rejection_reason"),
        Field("user", export=False),
        actor("first_approved_by"),
        actor("decided_by"),
    ),
    context=("id", "kind", "status", "document_type", "submitted_at", "decided_at"),
    clocks={"created": "submitted_at", "closed": "decided_at"},
)

registry.declare(
    "verification.VerificationDocument",
    "verification_documents",
    owner="verification__user_id",
    erase=ANONYMISE,
    keep=Keep(
        _("The hash and kind of a deleted document stay with the verification decision."),
    ),
    fields=(
        Field("file", erase=BLANK),
        Field("purged_at", erase=REPLACE, replacement=lambda context: context.now),
    ),
    context=("id", "verification_id", "kind", "content_type", "size", "sha256", "created_at"),
    not_personal={"content_type": "the file's type (PNG, JPEG, PDF)"},
    file_label="kind",
    erase_order=50,  # before the verifications they belong to
    clocks={"created": "created_at", "closed": "verification__decided_at"},
)

registry.declare(
    "verification.GuardianConsent",
    "guardian",
    owner="child_id",
    erase=ANONYMISE,
    keep=Keep(
        _("Proof that a guardian consented for a child (PIPL art. 31), without names."),
        days=THREE_YEARS,
    ),
    fields=(
        Field("guardian_name", erase=REPLACE, replacement=ERASED),
        Field("guardian_phone", erase=REPLACE, replacement=""),
        Field("relationship", erase=REPLACE, replacement=ERASED),
        Field("note", erase=BLANK),
        Field("child", export=False, erase=KEEP),
        actor("recorded_by"),
        actor("verified_by"),
    ),
    context=("id", "status", "recorded_at", "verified_at"),
    clocks={"created": "recorded_at", "closed": "verified_at"},
)
