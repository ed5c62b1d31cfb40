from django.core.management.base import BaseCommand
from django.utils import translation

from lifecycle import records


class Command(BaseCommand):
    help = (
        "Print the records of processing from the personal-data registry: model, field, "
        "category, legal basis, retention, erasure, export, correction and recipients."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["md", "csv", "json"], default="md")
        parser.add_argument("--language", choices=["en", "zh-hans"], default="en")

    def handle(self, *args, format, language, **options):
        with translation.override(language):
            self.stdout.write(records.render(format), ending="")
