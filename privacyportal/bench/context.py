"""What every scenario gets: the scale, signed-in clients, and figures kept between phases."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

from .scales import Scale


@dataclass
class Context:
    scale: Scale
    log: object  # a callable taking one line of progress
    rng: random.Random = field(default_factory=lambda: random.Random(42))
    #: Figures a ``base`` phase keeps for its ``full`` phase (e.g. the first page at 10k rows).
    baseline: dict = field(default_factory=dict)
    _admin: User | None = None

    @property
    def repeat(self) -> int:
        return self.scale.repeat

    # --- People ----------------------------------------------------------------------------

    @property
    def staff(self) -> User:
        """A superuser who has passed the admin's second factor."""
        if self._admin is None:
            self._admin = User.objects.filter(phone="+8613700000000").first()
            if self._admin is None:
                self._admin = User.objects.create_superuser(
                    phone="+8613700000000", email="bench-dpo@example.com", username="bench-dpo"
                )
        return self._admin

    def admin_client(self) -> Client:
        """A client signed in as :attr:`staff`, second factor passed, as django_otp.login leaves
        the session: the admin pages measured are the real ones."""
        _allow_testserver()
        client = Client()
        client.force_login(self.staff)
        device, _ = TOTPDevice.objects.get_or_create(
            user=self.staff, name="Benchmark", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    def requester(self) -> User:
        """The requester with the most requests (the account center's heaviest page)."""
        from django.db.models import Count

        from requests.models import DataSubjectRequest

        top = (
            DataSubjectRequest.objects.values("requester")
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("requester", flat=True)[:1]
        )
        return User.objects.get(pk=top[0])

    def user_client(self, user: User | None = None) -> Client:
        _allow_testserver()
        client = Client()
        client.force_login(user or self.requester())
        return client


def _allow_testserver():
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
