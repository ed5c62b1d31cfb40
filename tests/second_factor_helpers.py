"""The staff second factor in tests: staff signed in with ``force_login`` count as verified
(``conftest._staff_pass_second_factor``), and browser tests type a real code from the device."""

import time

from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator(user) -> TOTPDevice:
    """The user's confirmed authenticator, created if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    return device


def mark_verified(client: Client, user) -> None:
    """What passing the second factor leaves in the session (``django_otp.login``)."""
    session = client.session
    assert str(session.get(SESSION_KEY)) == str(user.pk), "sign the user in first"
    session[DEVICE_ID_SESSION_KEY] = authenticator(user).persistent_id
    session.save()


def totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now: the current step's, or the next one when the current
    step's code was already used (a code never works twice)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step
    return f"{totp.token():0{device.digits}d}"


def pass_second_factor(page, user) -> None:
    """In a browser on the second-factor page after the password: type the current code."""
    page.wait_for_url("**/admin/second-factor/**")
    page.fill("[name=code]", totp_code(authenticator(user)))
    page.locator("#second-factor-form input[type=submit]").click()
