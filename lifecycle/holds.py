"""Legal holds (RET-2): data that must not be erased, on a person, a request or a whole data
category, until an end date. Every erasure asks here first: the retention sweep, deletion
requests and account deletions."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from lib.registry import Declaration, registry

from .models import LegalHold


def current_holds(now=None):
    """Holds in force at ``now``: neither ended early nor past their end date."""
    now = now or timezone.now()
    return LegalHold.objects.filter(ended_at__isnull=True, starts_at__lte=now, ends_at__gt=now)


@dataclass
class Holds:
    """What the holds in force cover."""

    users: dict = field(default_factory=dict)  # user id -> latest end
    requests: dict = field(default_factory=dict)  # request id -> latest end
    categories: dict = field(default_factory=dict)  # category code -> latest end

    @classmethod
    def now(cls, now=None) -> Holds:
        holds = cls()
        for scope, user_id, request_id, category, ends_at in current_holds(now).values_list(
            "scope", "user_id", "request_id", "category", "ends_at"
        ):
            target = {
                LegalHold.Scope.USER: (holds.users, user_id),
                LegalHold.Scope.REQUEST: (holds.requests, request_id),
                LegalHold.Scope.CATEGORY: (holds.categories, category),
            }[scope]
            table, key = target
            table[key] = max(table.get(key, ends_at), ends_at)
        return holds

    def exclude(self, decl: Declaration, qs):
        """``qs`` without the rows any hold covers (None: the whole declaration is held)."""
        if decl.category in self.categories:
            return None
        if self.users:
            owned = decl.rows_of_users(list(self.users))
            if owned is None:
                return None  # cannot tell whose rows these are: keep them all while holds run
            qs = qs.exclude(owned)
        if self.requests and decl.request_path:
            qs = qs.exclude(**{f"{decl.request_path}__in": list(self.requests)})
        return qs


@dataclass
class HeldForUser:
    """What holds cover of one person's data."""

    whole: object = None  # end date of a hold on the person, or None
    categories: dict = field(default_factory=dict)
    requests: dict = field(default_factory=dict)


class DataHeld(Exception):
    """The person's data is under a legal hold: it cannot be erased now."""

    def __init__(self, until):
        self.until = until
        super().__init__(
            _("This person's data is under a legal hold until %(date)s; it cannot be erased now.")
            % {"date": date_format(timezone.localtime(until), "DATE_FORMAT")}
        )


def held_for(user, now=None) -> HeldForUser:
    holds = Holds.now(now)
    held = HeldForUser(whole=holds.users.get(user.pk), categories=dict(holds.categories))
    if holds.requests:
        from requests.models import DataSubjectRequest

        mine = set(
            DataSubjectRequest.objects.filter(
                requester=user, pk__in=list(holds.requests)
            ).values_list("pk", flat=True)
        )
        held.requests = {pk: holds.requests[pk] for pk in mine}
    return held


def blocked_by(hold: LegalHold) -> list[tuple[str, int]]:
    """(model, rows) the hold keeps from erasure: what the DPO sees on the hold's page."""
    blocked = []
    for decl in registry.about_subject():
        qs = decl.model_class._base_manager.all()
        if hold.scope == LegalHold.Scope.CATEGORY:
            if hold.category not in decl.categories():
                continue
        elif hold.scope == LegalHold.Scope.USER:
            owned = decl.rows_of_users([hold.user_id])
            if owned is None:
                continue
            qs = qs.filter(owned)
        else:
            if not decl.request_path or hold.request_id is None:
                continue
            qs = qs.filter(**{decl.request_path: hold.request_id})
        count = qs.count()
        if count:
            blocked.append((decl.model, count))
    return blocked
