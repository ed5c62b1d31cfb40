from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.backends import find_user
from lifecycle import exporting


class Command(BaseCommand):
    help = (
        "Write everything the portal holds about one person to a ZIP file (the same export as "
        "'Download my data'). The file is NOT encrypted: keep it safe and delete it after use."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="The person's phone number or e-mail address.")
        parser.add_argument("-o", "--output", required=True, help="The ZIP file to write.")
        parser.add_argument("--force", action="store_true", help="Overwrite an existing file.")

    def handle(self, *args, identifier, output, force, **options):
        user = find_user(identifier)
        if user is None or user.is_erased:
            raise CommandError("No account has this phone number or e-mail address.")
        path = Path(output)
        if path.exists() and not force:
            raise CommandError(f"{path} exists; use --force to overwrite it.")
        if path.parent and not path.parent.is_dir():
            raise CommandError(f"The folder {path.parent} does not exist.")
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                summary = exporting.build(user, out, language=user.preferred_language)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        rows = sum(t.rows for t in summary.tables)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {path}: {rows} rows in {len(summary.tables)} tables, "
                f"{len(summary.files)} files."
            )
        )
