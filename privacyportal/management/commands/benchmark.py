"""Measure the DPO queue, the account center and the SLA sweep on a large, realistic data set.

Fills a DISPOSABLE database with users and requests (bulk inserts, not the workflow, so that a
million rows take minutes), then times the pages and the sweep and prints a Markdown table.
Results are recorded in docs/benchmarks.md.
"""

import random
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from requests.models import (
    CLOSED_STATES,
    DataSubjectRequest,
    RequestKind,
    RequestState,
)
from requests.references import build as build_reference
from requests.sweep import sla_sweep


def _scrambled(i: int) -> int:
    """A distinct 40-bit number for each row, in no visible order: references of the real
    format, unique without a lookup (multiplying by an odd number is a bijection mod 2^40)."""
    return (i * 0x9E3779B97F + 0x5DEECE66D) % (1 << 40)


class Command(BaseCommand):
    help = "Fill a disposable database with requests and time the queue, pages and sweep."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=200_000)
        parser.add_argument("--users", type=int, default=50_000)
        parser.add_argument("--open-share", type=float, default=0.1)
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument(
            "--consent-events",
            type=int,
            default=0,
            help="Also fill the consent ledger with this many chained events and time its admin.",
        )
        parser.add_argument(
            "--database-is-disposable",
            action="store_true",
            help="Required: the command inserts many rows into the configured database.",
        )

    def handle(self, *args, **opts):
        if not opts["database_is_disposable"]:
            raise CommandError("Refusing to run without --database-is-disposable.")
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        rng = random.Random(42)
        staff = self._fill(opts["users"], opts["requests"], opts["open_share"], rng)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        admin = Client()
        admin.force_login(staff[0])
        # The admin asks staff for a second factor: the benchmark's staff member has passed it
        # (what django_otp.login leaves in the session), so the pages measured are the real ones.
        device = TOTPDevice.objects.create(user=staff[0], name="Benchmark", confirmed=True)
        session = admin.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        requester = (
            User.objects.filter(is_staff=False).order_by("-id").values_list("id", flat=True)[0]
        )
        user_client = Client()
        user_client.force_login(User.objects.get(pk=requester))
        some = DataSubjectRequest.objects.order_by("?").values_list("reference", flat=True)[0]
        phone = User.objects.filter(is_staff=False).values_list("phone", flat=True)[0]
        queue = "/admin/requests/datasubjectrequest/"
        cases = [
            ("Admin queue, default page (open requests)", admin, queue),
            ("Admin queue, all requests", admin, queue + "?status=all"),
            ("Admin queue, overdue", admin, queue + "?deadline=overdue"),
            ("Admin queue, mine", admin, queue + "?assignee=mine&status=open"),
            ("Admin queue, search by reference", admin, f"{queue}?q={some}"),
            ("Admin queue, search by phone", admin, f"{queue}?q={str(phone)[3:]}"),
            ("Admin queue, all requests, page 100", admin, queue + "?status=all&p=100"),
            ("Admin index (dashboard)", admin, "/admin/"),
            ("Account center, my requests", user_client, "/account/requests/"),
        ]
        rows = []
        for label, client, url in cases:
            timings = []
            queries = 0
            for _ in range(opts["repeat"]):
                reset_queries()
                with CaptureQueriesContext(connection) as ctx:
                    start = time.perf_counter()
                    response = client.get(url)
                    timings.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
                queries = len(ctx.captured_queries)
            rows.append((label, statistics.median(timings), max(timings), queries))

        if opts["consent_events"]:
            rows.extend(self._ledger(opts["consent_events"], admin, rng, opts["repeat"]))

        DataSubjectRequest.objects.filter(state__in=["submitted", "in_progress"]).update(
            acknowledged_at=None
        )
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            result = sla_sweep()
            first = (time.perf_counter() - start) * 1000
        first_queries = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            sla_sweep()
            second = (time.perf_counter() - start) * 1000
        rows.append(
            (
                f"SLA sweep, first run (acknowledged {result.acknowledged}, "
                f"escalated {result.escalated})",
                first,
                first,
                first_queries,
            )
        )
        rows.append(
            ("SLA sweep, second run (nothing to do)", second, second, len(ctx.captured_queries))
        )

        total = DataSubjectRequest.objects.count()
        self.stdout.write(
            f"\n{total:,} requests, {User.objects.count():,} users, database {connection.vendor}\n"
        )
        self.stdout.write("| case | median ms | max ms | queries |\n|---|---:|---:|---:|")
        for label, median, worst, queries in rows:
            self.stdout.write(f"| {label} | {median:.1f} | {worst:.1f} | {queries} |")

    @staticmethod
    def _time(client, url, repeat):
        timings, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
                timings.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            queries = len(ctx.captured_queries)
        return statistics.median(timings), max(timings), queries

    def _ledger(self, n_events, admin, rng, repeat):
        """A chained ledger of ``n_events`` (bulk-inserted), then its admin pages and check."""
        from consent import ledger
        from consent.models import ConsentEvent, LedgerHead, Purpose

        existing = ConsentEvent.objects.count()
        purposes = []
        for code in ("marketing", "personalisation", "cross-border-transfer", "cookies-analytics"):
            purpose, _ = Purpose.objects.get_or_create(
                code=code,
                defaults={"name_en": code, "name_zh": code, "legal_basis": "consent"},
            )
            purposes.append(purpose)
        if existing < n_events:
            self.stdout.write(f"Appending {n_events - existing:,} consent events...")
            head, _ = LedgerHead.objects.get_or_create(pk=1, defaults={"last_hash": ledger.GENESIS})
            prev = head.last_hash
            user_ids = list(User.objects.filter(is_staff=False).values_list("id", flat=True))
            now = timezone.now()
            batch = []
            for i in range(existing, n_events):
                event = ConsentEvent(
                    user_id=rng.choice(user_ids),
                    purpose=rng.choice(purposes),
                    action=rng.choice(["grant", "grant", "withdraw"]),
                    channel=rng.choice(["web", "cookie_banner", "signup"]),
                    evidence={"ip_prefix": "203.0.113.0/24", "user_agent": "benchmark"},
                    created_at=now - timedelta(seconds=(n_events - i) * 30),
                    prev_hash=prev,
                )
                event.hash = prev = ledger.compute_hash(event)
                batch.append(event)
                if len(batch) == 10_000:
                    ConsentEvent.objects.bulk_create(batch)
                    batch = []
            ConsentEvent.objects.bulk_create(batch)
            LedgerHead.objects.filter(pk=1).update(last_hash=prev, count=n_events)
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("ANALYZE consent_consentevent")
        user_id = ConsentEvent.objects.order_by("-id").values_list("user_id", flat=True)[0]
        phone = User.objects.get(pk=user_id).phone
        base = "/admin/consent/consentevent/"
        cases = [
            ("Consent ledger, newest first", base),
            ("Consent ledger, by purpose", f"{base}?purpose={purposes[0].pk}"),
            ("Consent ledger, withdrawals", f"{base}?action__exact=withdraw"),
            ("Consent ledger, last 7 days", f"{base}?date=7d"),
            ("Consent ledger, search by phone", f"{base}?q={phone}"),
            ("Consent evidence page of one user", f"{base}user/{user_id}/"),
            ("Consent evidence CSV of one user", f"{base}export/?user={user_id}"),
        ]
        rows = [(label, *self._time(admin, url, repeat)) for label, url in cases]
        start = time.perf_counter()
        report = ledger.verify_chain()
        took = (time.perf_counter() - start) * 1000
        if not report.ok:
            raise CommandError(f"The benchmark ledger is broken: {report.reason}")
        rows.append((f"verify_consent_ledger over {report.checked:,} events", took, took, 0))
        return rows

    def _fill(self, n_users, n_requests, open_share, rng):
        existing = DataSubjectRequest.objects.count()
        staff = list(User.objects.filter(is_superuser=True)[:5])
        if not staff:
            for i in range(5):
                staff.append(
                    User.objects.create_superuser(
                        phone=f"+861370000{i:04d}", email=f"bench-staff{i}@example.com"
                    )
                )
        if existing >= n_requests:
            return staff
        self.stdout.write(f"Creating {n_users:,} users and {n_requests:,} requests...")
        have = User.objects.filter(is_staff=False).count()
        users = [
            User(
                phone=f"+86135{i:08d}", email=f"bench{i}@example.com", preferred_language="zh-hans"
            )
            for i in range(have, n_users)
        ]
        User.objects.bulk_create(users, batch_size=5000)
        user_ids = list(User.objects.filter(is_staff=False).values_list("id", flat=True))
        now = timezone.now()
        kinds = RequestKind.values
        batch = []
        for i in range(existing, n_requests):
            received = now - timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
            due = received + timedelta(days=15)
            is_open = rng.random() < open_share and received > now - timedelta(days=40)
            state = (
                rng.choice(["submitted", "in_progress", "in_progress", "awaiting_requester"])
                if is_open
                else rng.choice(list(CLOSED_STATES))
            )
            closed = None if is_open else received + timedelta(days=rng.randint(1, 20))
            batch.append(
                DataSubjectRequest(
                    reference=build_reference(received.year, _scrambled(i)),
                    kind=rng.choice(kinds),
                    state=state,
                    requester_id=rng.choice(user_ids),
                    assignee_id=rng.choice(staff).pk if rng.random() < 0.7 else None,
                    subject="Benchmark request",
                    description="Generated for the benchmark.",
                    received_at=received,
                    acknowledged_at=received + timedelta(minutes=15),
                    due_at=due,
                    original_due_at=due,
                    paused_at=received if state == RequestState.AWAITING_REQUESTER else None,
                    closed_at=closed,
                    answered_on_time=None if is_open else closed <= due,
                    refusal_ground="legal_obligation" if state == "refused" else "",
                    refusal_reason="Benchmark" if state == "refused" else "",
                )
            )
            if len(batch) == 10_000:
                DataSubjectRequest.objects.bulk_create(batch)
                batch = []
        DataSubjectRequest.objects.bulk_create(batch)
        return staff
