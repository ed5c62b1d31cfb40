"""Password sign-in by e-mail address or phone number (ACC-1); django-axes sits in front."""

import phonenumbers
from django.contrib.auth.backends import ModelBackend
from phonenumber_field.phonenumber import to_python

from .models import User


def find_user(identifier: str) -> User | None:
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier).first()
    number = to_python(identifier)
    if number is None or not number.is_valid():
        return None
    return User.objects.filter(
        phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    ).first()


class PortalBackend(ModelBackend):
    """Authenticates ``username`` (an e-mail address or a phone number) with a password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def axes_username(request, credentials) -> str:
    """What django-axes counts failures against: the account an identifier resolves to, so that
    ``Alice@Example.com``, ``alice@example.com`` and ``139…``/``+86139…`` share one counter."""
    raw = ""
    if credentials:
        raw = credentials.get("username") or ""
    if not raw and request is not None:
        raw = request.POST.get("username", "")
    raw = str(raw).strip()  # after sign-in axes passes the user's own (phone number) username
    if "@" in raw:
        return raw.lower()
    number = to_python(raw) if raw else None
    if number is not None and number.is_valid():
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return raw.lower()
