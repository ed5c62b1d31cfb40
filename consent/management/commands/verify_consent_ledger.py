from django.core.management.base import BaseCommand, CommandError

from consent.ledger import verify_chain


class Command(BaseCommand):
    help = (
        "Check the consent ledger's hash chain from the first event to the last and report the "
        "first broken link (an edited, inserted or removed row). Exits non-zero if broken."
    )

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(f"Ledger intact: {report.checked} events checked.")
            )
            return
        raise CommandError(
            f"Ledger broken at event {report.broken_at}: {report.reason} "
            f"({report.checked} events before it are intact)."
        )
