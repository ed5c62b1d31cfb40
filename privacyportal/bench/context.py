"""What every scenario gets: the scale, signed-in clients, and figures kept between phases."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
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
    _admin_client: object = None
    #: A copy of the database at the small size, kept beside the growing one (``snapshot``),
    #: so that a page can be timed at both sizes alternately in the same moment.
    small_db: str | None = None

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
        the session: the admin pages measured are the real ones. One for the whole run, so its
        session is in the small copy of the database too."""
        if self._admin_client is None:
            self._admin_client = self._new_admin_client()
        return self._admin_client

    def _new_admin_client(self) -> Client:
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


@contextmanager
def on_database(name: str | None):
    """Run the block on database ``name`` (same server and role) instead of the configured one;
    None: the configured one. The connection is closed on the way in and out (not timed)."""
    if name is None:
        yield
        return
    conn = connections["default"]
    original = conn.settings_dict["NAME"]
    conn.close()
    conn.settings_dict["NAME"] = name
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original


def _allow_testserver():
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
