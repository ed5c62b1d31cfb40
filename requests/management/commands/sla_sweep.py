from django.core.management.base import BaseCommand

from requests.sweep import sla_sweep


class Command(BaseCommand):
    help = "Acknowledge new requests, remind owners before deadlines and escalate overdue ones."

    def handle(self, *args, **options):
        result = sla_sweep()
        self.stdout.write(
            f"acknowledged={result.acknowledged} reminders={result.reminders} "
            f"escalated={result.escalated}"
        )
