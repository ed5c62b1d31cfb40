"""Forms of the account center's data pages: deleting the account (re-authenticated) and
checking a deletion certificate."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import PhoneCode
from accounts.services import CodeError, verify_code

from .models import normalise_code


class DeleteAccountForm(forms.Form):
    """Deleting the account needs the person again: an SMS code to their phone, or their
    password, and an explicit confirmation (RGT-3)."""

    code = forms.CharField(
        label=_("Code sent to your phone"),
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    password = forms.CharField(
        label=_("Or your password"),
        required=False,
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my account and my personal data will be deleted."),
        required=True,
    )

    def __init__(self, *args, user=None, password_allowed=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.password_allowed = password_allowed

    def clean(self):
        cleaned = super().clean()
        code = (cleaned.get("code") or "").strip()
        password = cleaned.get("password") or ""
        if not code and not password:
            raise forms.ValidationError(
                _("Enter the code we sent to your phone, or your password."), code="no_proof"
            )
        if code:
            if not code.isdigit() or len(code) != 6:
                self.add_error("code", _("The code has 6 digits."))
                return cleaned
            try:
                verify_code(str(self.user.phone), PhoneCode.Purpose.REAUTH, code)
            except CodeError as exc:
                self.add_error("code", str(exc))
        elif not self.password_allowed:
            self.add_error("password", _("Too many wrong passwords: confirm with a code instead."))
        elif not (self.user.has_usable_password() and self.user.check_password(password)):
            self.add_error("password", _("The password is not correct."))
        return cleaned


class CertificateForm(forms.Form):
    code = forms.CharField(
        label=_("Certificate code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "XXXX-XXXX-XXXX-XXXX"}),
    )

    def clean_code(self):
        code = normalise_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError(_("A code has 16 letters and digits, like ABCD-2345-…"))
        return code
