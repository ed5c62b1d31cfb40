"""Forms shared by every app."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ConfirmForm(forms.Form):
    """An explicit confirmation for state changes that need no other input."""

    confirm = forms.BooleanField(label=_("Yes, I am sure"), required=True)
