"""Mask the personal values still held by older audit log entries (AUD-1). Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from audit.redaction import BATCH_SIZE, redact_existing


class Command(BaseCommand):
    help = (
        "Mask the personal values (e-mail, phone, date of birth, names, numbers, free text) "
        "that audit log entries written before minimisation still hold. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Entries per transaction (default {BATCH_SIZE}).",
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        done = redact_existing(batch_size=batch_size)
        self.stdout.write(f"Masked {done} audit log entries.")
