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
        where = f"at event {report.broken_at}" if report.broken_at else "at its start"
        raise CommandError(
            f"Ledger broken {where}: {report.reason} "
            f"({report.checked} events before it are intact)."
        )
