"""Account-center forms for real-name verification and guardians (VER-1..3, MIN-1).

Plain forms, not ModelForms: nothing touches the database or the document store before every
field and every file has been checked. ``clean()`` runs the uploads through
``accounts.verification.validate_documents`` (content sniffing, size limits, re-encoding) and
leaves the cleaned documents in ``cleaned_data["documents"]`` for ``verification.submit``.
"""

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from .models import Verification, VerificationDocument
from .services import validate_documents
from .validators import (
    validate_bank_account,
    validate_passport_number,
    validate_resident_id,
    validate_uscc,
)

DocType = Verification.DocumentType
DocKind = VerificationDocument.Kind

ACCEPT = ".pdf,.png,.jpg,.jpeg"
_OTHER_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9-]{4,30}")


def _file_field(label, required_for=None):
    """An optional file input (requirements depend on other fields and are checked in clean())."""
    return forms.FileField(
        label=label,
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        help_text=required_for,
    )


def _sensitive_consent_field(help_text):
    """The separate consent to the processing of sensitive personal information (CON-3): its
    own box, never ticked in advance, naming the purpose and what is collected."""
    return forms.BooleanField(
        label=_(
            "I give my separate consent to the processing of my sensitive personal information "
            "for real-name verification, as described below."
        ),
        help_text=help_text,
        required=True,
        error_messages={
            "required": _(
                "Without your separate consent we cannot process these details and documents. "
                "Tick the box to continue; nothing has been stored."
            )
        },
    )


class _DocumentsMixin:
    """Maps document kinds to form fields and runs the shared document checks."""

    #: {VerificationDocument.Kind: form field name}
    document_fields: dict = {}
    #: [(legend, [field name, ...]), ...] for the template
    fieldsets: list = []

    def grouped_fields(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]

    def consent_wording(self) -> str:
        """The exact text of the separate-consent box, as shown, for the ledger's evidence."""
        field = self.fields["sensitive_consent"]
        return f"{field.label} {field.help_text}"

    def _consented(self) -> bool:
        """Uploads are only opened once the separate consent is given (CON-3): without it the
        form is refused before any document is decoded."""
        return bool(self.cleaned_data.get("sensitive_consent"))

    def _set_file_help_texts(self):
        limits = _("PDF, PNG or JPEG, at most %(file)s (%(total)s for all files together).") % {
            "file": filesizeformat(settings.VERIFICATION_DOCUMENT_MAX_BYTES),
            "total": filesizeformat(settings.VERIFICATION_SUBMISSION_MAX_BYTES),
        }
        for name in self.document_fields.values():
            field = self.fields[name]
            field.help_text = f"{field.help_text} {limits}" if field.help_text else limits

    def _require_files(self, kinds):
        for kind in kinds:
            name = self.document_fields[kind]
            if name not in self.errors and not self.cleaned_data.get(name):
                self.add_error(name, _("Please upload this document."))

    def _check_documents(self, kinds):
        """Validate the uploads of ``kinds``; errors go to the matching fields."""
        uploads = {
            kind: self.cleaned_data.get(self.document_fields[kind])
            for kind in kinds
            if self.cleaned_data.get(self.document_fields[kind])
        }
        try:
            return validate_documents(uploads)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for kind, errors in exc.error_dict.items():
                    name = self.document_fields.get(kind)
                    for error in errors:
                        self.add_error(name, error)
            else:
                self.add_error(None, exc)
            return []


class IndividualVerificationForm(_DocumentsMixin, forms.Form):
    """An individual's verification (VER-1), with the optional university programme (VER-3)."""

    document_fields = {
        DocKind.ID_FRONT: "id_front",
        DocKind.ID_BACK: "id_back",
        DocKind.PASSPORT: "passport",
        DocKind.OTHER_ID: "other_id",
        DocKind.STUDENT_ID: "student_card",
    }
    #: the document files each document type needs
    required_documents = {
        DocType.RESIDENT_ID: [DocKind.ID_FRONT, DocKind.ID_BACK],
        DocType.PASSPORT: [DocKind.PASSPORT],
        DocType.OTHER: [DocKind.OTHER_ID],
    }

    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=100,
        help_text=_("Exactly as it appears on your identity document."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    document_type = forms.ChoiceField(label=_("Identity document"), choices=DocType.choices)
    document_number = forms.CharField(
        label=_("Document number"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Stored encrypted; afterwards you and our staff see it masked."),
    )
    id_front = _file_field(
        _("ID card, front"), _("Required for a resident identity card: the side with your photo.")
    )
    id_back = _file_field(
        _("ID card, back"),
        _("Required for a resident identity card: the side with the issuing authority."),
    )
    passport = _file_field(
        _("Passport photo page"), _("Required for a passport: the page with your photo.")
    )
    other_id = _file_field(
        _("Identity document"), _("Required for another identity document: one scan or photo.")
    )
    student_id = forms.CharField(
        label=_("Student ID number (optional)"),
        max_length=40,
        required=False,
        help_text=_("Only for the university programme; give the institution too."),
    )
    institution = forms.CharField(
        label=_("Institution (optional)"),
        max_length=200,
        required=False,
    )
    student_card = _file_field(_("Student ID card (optional)"))
    sensitive_consent = _sensitive_consent_field(
        _(
            "Purpose: verifying your real name (individual). What we collect: your legal name, "
            "the number of your identity document (resident ID or passport number), images of "
            "the document and, for the university programme, your student ID number, "
            "institution and student card. This is sensitive personal information: it is "
            "stored encrypted, seen only by the staff who review it, and the images are deleted "
            "after the decision as stated above. Without this consent we cannot verify you. "
            "You can withdraw it on your consents page; a verification not yet decided then "
            "cannot be approved."
        )
    )

    fieldsets = [
        (_("Your identity"), ["legal_name", "document_type", "document_number"]),
        (_("Identity document images"), ["id_front", "id_back", "passport", "other_id"]),
        (
            _("University programme (optional)"),
            ["student_id", "institution", "student_card"],
        ),
        (_("Separate consent for sensitive personal information"), ["sensitive_consent"]),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_file_help_texts()

    def clean_legal_name(self):
        return " ".join(self.cleaned_data["legal_name"].split())

    def clean_student_id(self):
        return self.cleaned_data["student_id"].strip()

    def clean_institution(self):
        return " ".join(self.cleaned_data["institution"].split())

    def _clean_document_number(self, document_type, number):
        if document_type == DocType.RESIDENT_ID:
            return validate_resident_id(number)
        if document_type == DocType.PASSPORT:
            return validate_passport_number(number)
        number = "".join(number.split()).upper()
        if not _OTHER_DOCUMENT_NUMBER.fullmatch(number):
            raise ValidationError(
                _("The document number must have 4 to 30 letters, digits or hyphens."),
                code="format",
            )
        return number

    def clean(self):
        cleaned = super().clean()
        document_type = cleaned.get("document_type")
        number = cleaned.get("document_number")
        if document_type and number:
            try:
                cleaned["document_number"] = self._clean_document_number(document_type, number)
            except ValidationError as exc:
                self.add_error("document_number", exc)

        if bool(cleaned.get("student_id")) != bool(cleaned.get("institution")):
            missing = "institution" if cleaned.get("student_id") else "student_id"
            self.add_error(
                missing,
                _("For the university programme give both the student ID and the institution."),
            )
        if cleaned.get("student_card") and not cleaned.get("student_id"):
            self.add_error(
                "student_card",
                _("A student ID card belongs with a student ID number and institution."),
            )

        kinds = list(self.required_documents.get(document_type, []))
        if document_type:
            self._require_files(kinds)
        kinds.append(DocKind.STUDENT_ID)
        cleaned["documents"] = self._check_documents(kinds) if self._consented() else []
        return cleaned

    def submission(self) -> dict:
        """Keyword arguments for ``verification.submit``."""
        data = self.cleaned_data
        return {
            "kind": Verification.Kind.INDIVIDUAL,
            "documents": data["documents"],
            "legal_name": data["legal_name"],
            "document_type": data["document_type"],
            "document_number": data["document_number"],
            "student_id": data["student_id"],
            "institution": data["institution"],
        }


class EnterpriseVerificationForm(_DocumentsMixin, forms.Form):
    """An enterprise's verification (VER-2)."""

    document_fields = {DocKind.LICENCE: "licence"}

    company_name = forms.CharField(
        label=_("Company name"),
        max_length=200,
        help_text=_("As registered on the business licence."),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("18 characters, printed on the business licence."),
    )
    licence = _file_field(_("Business licence"))
    legal_rep_name = forms.CharField(label=_("Legal representative's name"), max_length=100)
    legal_rep_id_number = forms.CharField(
        label=_("Legal representative's resident ID number"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bank_name = forms.CharField(label=_("Bank"), max_length=100)
    bank_branch = forms.CharField(label=_("Branch"), max_length=200)
    bank_account = forms.CharField(
        label=_("Bank account number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
        help_text=_("The company's account; stored encrypted and shown masked."),
    )
    sensitive_consent = _sensitive_consent_field(
        _(
            "Purpose: verifying your enterprise. What we collect: the legal representative's "
            "name and resident ID number, an image of the business licence, and the company's "
            "bank, branch and bank account number. This is sensitive personal information: it "
            "is stored encrypted, seen only by the staff who review it, and the images are "
            "deleted after the decision as stated above. Without this consent we cannot verify "
            "the enterprise. You can withdraw it on your consents page; a verification not yet "
            "decided then cannot be approved."
        )
    )

    fieldsets = [
        (_("Company"), ["company_name", "credit_code", "licence"]),
        (_("Legal representative"), ["legal_rep_name", "legal_rep_id_number"]),
        (_("Bank account"), ["bank_name", "bank_branch", "bank_account"]),
        (_("Separate consent for sensitive personal information"), ["sensitive_consent"]),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_file_help_texts()
        self.fields["licence"].help_text = "{} {}".format(
            _("Required."), self.fields["licence"].help_text
        )

    # The validators accept the value; these return it normalised (upper case, digits only).
    def clean_credit_code(self):
        return validate_uscc(self.cleaned_data["credit_code"])

    def clean_legal_rep_id_number(self):
        return validate_resident_id(self.cleaned_data["legal_rep_id_number"])

    def clean_bank_account(self):
        return validate_bank_account(self.cleaned_data["bank_account"])

    def clean_company_name(self):
        return " ".join(self.cleaned_data["company_name"].split())

    def clean(self):
        cleaned = super().clean()
        self._require_files([DocKind.LICENCE])
        cleaned["documents"] = self._check_documents([DocKind.LICENCE]) if self._consented() else []
        return cleaned

    def submission(self) -> dict:
        data = self.cleaned_data
        fields = (
            "company_name",
            "credit_code",
            "legal_rep_name",
            "legal_rep_id_number",
            "bank_name",
            "bank_branch",
            "bank_account",
        )
        return {
            "kind": Verification.Kind.ENTERPRISE,
            "documents": data["documents"],
            **{name: data[name] for name in fields},
        }


class GuardianConsentForm(forms.Form):
    """A guardian's details for a child under 14 (MIN-1); staff verify them afterwards."""

    guardian_name = forms.CharField(label=_("Guardian's name"), max_length=100)
    guardian_phone = PhoneNumberField(
        label=_("Guardian's mobile phone"),
        region="CN",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        help_text=_("We call or text this number to confirm the consent."),
    )
    relationship = forms.CharField(
        label=_("Relationship to the child"),
        max_length=50,
        help_text=_("For example: mother, father, legal guardian."),
    )
    confirm = forms.BooleanField(
        label=_(
            "The guardian has read the privacy policy with the child and agrees to the "
            "processing of the child's personal data."
        ),
    )

    def __init__(self, *args, child, **kwargs):
        self.child = child
        super().__init__(*args, **kwargs)

    def clean_guardian_name(self):
        name = " ".join(self.cleaned_data["guardian_name"].split())
        if not name:
            raise ValidationError(_("Please give the guardian's name."), code="required")
        return name

    def clean_relationship(self):
        relationship = " ".join(self.cleaned_data["relationship"].split())
        if not relationship:
            raise ValidationError(_("Please say how the guardian is related."), code="required")
        return relationship

    def clean_guardian_phone(self):
        phone = self.cleaned_data["guardian_phone"]
        if phone == self.child.phone:
            raise ValidationError(
                _("Please give the guardian's own number, not the number of this account."),
                code="own_number",
            )
        return phone
