"""The current second-factor code of a demo staff member, for `make run` (demo only)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.backends import find_user

from .seed_demo import DEMO_DEVICE_NAME, demo_totp_key


class Command(BaseCommand):
    help = (
        "Print the current authenticator code of a demo staff member created by seed_demo. "
        "Works only for the demo's published secrets, never for a real device."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="The demo staff member's e-mail address.")

    def handle(self, *args, identifier, **options):
        user = find_user(identifier)
        if user is None or not user.email:
            raise CommandError("No account has this e-mail address or phone number.")
        device = TOTPDevice.objects.filter(
            user=user, name=DEMO_DEVICE_NAME, key=demo_totp_key(user.email), confirmed=True
        ).first()
        if device is None:
            raise CommandError(
                "This account has no demo authenticator: only the staff created by seed_demo "
                "have one, and a real device's codes are never printed."
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"(demo only; valid for about {left} more seconds)")
