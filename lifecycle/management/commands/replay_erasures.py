from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lifecycle import replay


class Command(BaseCommand):
    help = (
        "After restoring a backup: erase again everything erased since DATE (RET-3), from the "
        "erasure ledger, or from the erasure journal file with --journal after a full restore."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", required=True, help="YYYY-MM-DD or an ISO time: when the backup was taken."
        )
        parser.add_argument("--journal", help="The erasure journal (ERASURE_JOURNAL) to read.")
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; print.")

    def handle(self, *args, since, journal, dry_run, **options):
        try:
            moment = datetime.fromisoformat(since)
        except ValueError as exc:
            raise CommandError(f"--since: not a date or time: {since!r}") from exc
        if len(since) <= 10:
            moment = datetime.combine(moment.date(), time.min)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        try:
            done = replay.replay(moment, journal_path=journal, dry_run=dry_run)
        except FileNotFoundError as exc:
            raise CommandError(f"No journal at {journal}") from exc
        for item in done:
            entry = item.entry
            self.stdout.write(
                f"E-{entry['id']:06d} {entry['created_at']} {entry['reason']}: {item.outcome}"
                + (f" ({item.rows} rows)" if item.rows else "")
            )
        self.stdout.write(self.style.SUCCESS(f"{len(done)} erasures replayed."))
