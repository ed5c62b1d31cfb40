from django.core.management.base import BaseCommand

from privacyportal.roles import sync_roles


class Command(BaseCommand):
    help = "Set the staff groups to exactly their roles' permissions (also done after migrate)."

    def handle(self, *args, **options):
        for name, count in sync_roles().items():
            self.stdout.write(f"{name}: {count} permissions")
