"""Account forms: phone + SMS code sign-up and sign-in, password sign-in, profile (ACC-1, ACC-3)."""

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from lib import hooks

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
    # The policy versions the box names (POL-1): checked on submission; the view records their
    # acceptance in the consent ledger through lib.hooks (consent sits above accounts).
    policy_versions = forms.CharField(required=False, widget=forms.HiddenInput)

    field_order = ["phone", "date_of_birth", "email", "preferred_language", "accept", "code"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The language of the page the person is reading, not always Chinese (issue 13).
        current = translation.get_language() or ""
        self.fields["preferred_language"].initial = (
            User.Language.CHINESE if current.startswith("zh") else User.Language.ENGLISH
        )
        self.acceptance = hooks.signup_acceptance()
        if self.acceptance.versions:
            self.fields["accept"].label = self.acceptance.label  # links to both versions
        self.fields["policy_versions"].initial = self.acceptance.token

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("policy_versions") or "") != self.acceptance.token:
            # A version was published after the page was shown: show it and ask again.
            self.data = self.data.copy()
            self.data["policy_versions"] = self.acceptance.token
            self.data.pop("accept", None)
            self.add_error(
                "accept",
                _(
                    "The privacy policy or the user agreement has changed since this page was "
                    "shown. Please read the current version and tick the box again."
                ),
            )
        return cleaned

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


class PasswordSetForm(forms.Form):
    """Set a first password (accounts opened by SMS have none) or change it, confirmed with a
    code sent to the account's phone (ACC-1). Django's password validators apply."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    code = forms.CharField(
        label=_("Code sent to your phone"),
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("Ask for a code with the button below; it is valid for a few minutes."),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_code(self):
        code = self.cleaned_data.get("code", "").strip()
        if not code.isdigit() or len(code) != 6:
            raise forms.ValidationError(_("The code has 6 digits."))
        return code

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("The two passwords are not the same."))
        elif first:
            try:
                password_validation.validate_password(first, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password1", exc)
        return cleaned


class ProfilePhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("Photo"),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
        help_text=_(
            "Optional. A PNG or JPEG image; it is cropped to a square and stored without its "
            "location or camera data."
        ),
    )

    def clean_photo(self):
        from .photos import process

        upload = self.cleaned_data["photo"]
        self.processed = process(upload)  # ValidationError becomes the field's error
        return upload
