from django.core.management.base import BaseCommand, CommandError

from lib.registry import registry
from lifecycle import retention


class Command(BaseCommand):
    help = (
        "Erase what has outlived its retention rule and is not under a legal hold (RET-1, RET-2),"
        " in batches, each recorded in the erasure ledger. --dry-run prints what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; print.")
        parser.add_argument(
            "--category", action="append", default=[], help="Only this category (repeatable)."
        )

    def handle(self, *args, dry_run, category, **options):
        known = {c.code for c in registry.subject_categories()}
        unknown = sorted(set(category) - known)
        if unknown:
            raise CommandError(f"Unknown data categories: {', '.join(unknown)}")
        result = retention.sweep(dry_run=dry_run, categories=category or None)
        verb = "would erase" if dry_run else "erased"
        for run in result.runs:
            state = ""
            if run.failed:
                state = " (FAILED: see the log; the other rules ran)"
            elif run.held:
                state = " (held: a legal hold covers the category)"
            elif run.waiting is not None:
                state = f" (WAITING: {run.waiting} rows exceed the cap of {run.rule.cap})"
            count = run.candidates if dry_run else run.erased
            self.stdout.write(f"{run.rule.category}: {verb} {count}{state}")
            for part in run.parts:
                number = part.candidates if dry_run else part.erased
                self.stdout.write(f"  {part.model}: {part.mode}, {number}")
        for code in result.missing_rules:
            self.stderr.write(f"{code}: NO RETENTION RULE (nothing of it is erased)")
        if result.missing_rules:
            raise CommandError(
                "Data categories without a retention rule: " + ", ".join(result.missing_rules)
            )
        failed = [run.rule.category for run in result.runs if run.failed]
        if failed:
            raise CommandError("These rules failed (see the log): " + ", ".join(failed))
