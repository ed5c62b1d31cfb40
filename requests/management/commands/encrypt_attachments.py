"""Encrypt the request attachments stored before attachments were encrypted at rest (VER-4).

Run after ``migrate`` on every deployment (``make run`` does): it does nothing once every
attachment is encrypted, so running it again costs only a look at each file.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from requests.models import Attachment
from vault import keys


class Command(BaseCommand):
    help = (
        "Encrypt request attachments still stored in plaintext (PRIVATE_MEDIA_ROOT) into the "
        "encrypted store (SENSITIVE_MEDIA_ROOT), under the same names. For each file: write "
        "the encrypted copy, check it decrypts to the same bytes, then delete the plaintext. "
        "Rows are walked by primary key in batches, each batch in its own transaction with "
        "its rows locked (an erasure of the same rows waits for it). Idempotent and safe to "
        "interrupt: run it again and it continues where it stopped. --check writes nothing "
        "and fails while any plaintext attachment remains."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=200, help="Rows per transaction (default 200)."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Count the attachments still in plaintext, write nothing, and exit with an "
            "error if there are any (for deployment pipelines and monitoring).",
        )

    def handle(self, *args, batch_size, check, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            keys.reset()
            keys.check()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        storage = Attachment._meta.get_field("file").storage
        counts = {"encrypted": 0, "already": 0, "missing": 0, "plaintext": 0, "mismatch": 0}
        last_pk = 0
        while True:
            with transaction.atomic():
                qs = Attachment.objects.filter(pk__gt=last_pk).exclude(file="").order_by("pk")
                if not check:
                    qs = qs.select_for_update(of=("self",))
                rows = list(qs.values_list("pk", "file", "sha256")[:batch_size])
                if not rows:
                    break
                last_pk = rows[-1][0]
                for pk, name, sha256 in rows:
                    self._one(storage, pk, name, sha256, check, counts)
            if len(rows) < batch_size:
                break

        self.stdout.write(
            f"Attachments: {counts['encrypted']} encrypted now, {counts['already']} already "
            f"encrypted, {counts['missing']} missing from storage"
            + (f", {counts['plaintext']} still in plaintext" if check else "")
            + "."
        )
        if counts["mismatch"]:
            self.stderr.write(
                f"{counts['mismatch']} attachments did not match their recorded SHA-256 (see "
                "above); they were encrypted as found."
            )
        if check and counts["plaintext"]:
            raise CommandError(
                f"{counts['plaintext']} attachments are still in plaintext: run "
                "`manage.py encrypt_attachments`."
            )
        self.stdout.write(self.style.SUCCESS("Done."))

    def _one(self, storage, pk, name, sha256, check, counts):
        if not storage.is_plaintext(name):
            counts["already" if storage.is_encrypted(name) else "missing"] += 1
            return
        if check:
            counts["plaintext"] += 1
            return
        try:
            digest = storage.encrypt_legacy(name)
        except OSError as exc:
            raise CommandError(
                f"Attachment pk={pk}: could not encrypt its file ({exc}). Batches before it are "
                "done; fix the cause and run the command again."
            ) from exc
        if digest is None:  # removed meanwhile by something that did not hold the row
            counts["missing"] += 1
            return
        counts["encrypted"] += 1
        if sha256 and digest != sha256:
            counts["mismatch"] += 1
            self.stderr.write(f"Attachment pk={pk}: content differs from its recorded SHA-256.")
