"""Account forms: phone + SMS code sign-up and sign-in, password sign-in, profile (ACC-1, ACC-3)."""

from django import forms
from django.contrib.auth import authenticate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from .models import User


class PhoneForm(forms.Form):
    phone = PhoneNumberField(
        label=_("Mobile phone"),
        region="CN",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("Mainland numbers can be entered without +86."),
    )
    code = forms.CharField(
        label=_("Verification code"),
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self):
        code = self.cleaned_data.get("code", "").strip()
        if code and (not code.isdigit() or len(code) != 6):
            raise forms.ValidationError(_("The code has 6 digits."))
        return code


class SignupForm(PhoneForm):
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("We ask so that children's accounts get a guardian's consent."),
    )
    email = forms.EmailField(label=_("E-mail (optional)"), required=False)
    preferred_language = forms.ChoiceField(
        label=_("Language"), choices=User.Language.choices, initial=User.Language.CHINESE
    )
    accept = forms.BooleanField(
        label=_("I have read the privacy policy and the user agreement."), required=True
    )

    field_order = ["phone", "date_of_birth", "email", "preferred_language", "accept", "code"]

    # Neither the number nor the e-mail address is checked against existing accounts here: the
    # form answers the same for both until the code proves the number (accounts.views.signup).
    def clean_email(self):
        return (self.cleaned_data.get("email") or "").strip().lower() or None

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if dob > today:
            raise forms.ValidationError(_("The date of birth cannot be in the future."))
        if dob.year < today.year - 130:
            raise forms.ValidationError(_("Please check the year of birth."))
        return dob


class PasswordLoginForm(forms.Form):
    username = forms.CharField(
        label=_("E-mail or mobile phone"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.user = authenticate(
            self.request, username=cleaned["username"], password=cleaned["password"]
        )
        if self.user is None:
            raise forms.ValidationError(
                _("The e-mail/phone or the password is not correct."), code="invalid_login"
            )
        return cleaned


class ProfileForm(forms.ModelForm):
    """Self-service corrections (RGT-1). Every saved change is in the audit log."""

    class Meta:
        model = User
        # The date of birth decides the minors' rules (MIN-1): it is corrected through a request
        # that staff check, never by the user alone (a child could otherwise lift their own
        # restriction).
        fields = ["email", "username", "preferred_language"]

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("An account with this e-mail address already exists."))
        return email

    def clean_username(self):
        return (self.cleaned_data.get("username") or "").strip() or None
