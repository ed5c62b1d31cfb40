"""Re-encrypt every encrypted value and document with the primary key (VER-4, key rotation).

Encrypted fields and encrypted files are discovered generically: every concrete
``vault.fields.EncryptedTextField`` of every installed model, and every ``FileField`` whose
storage is a ``vault.storage.EncryptedFileSystemStorage`` (verification documents and request
attachments). A file of such a field still in plaintext from before the field was encrypted
(``EncryptedStorageWithPlaintextPast``) is encrypted under the primary key on the way.
"""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from vault import keys
from vault.fields import SEPARATOR, EncryptedTextField
from vault.storage import EncryptedFileSystemStorage, EncryptedStorageWithPlaintextPast

RAW = "_rotate_raw"


def _concrete_models():
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or meta.swapped or not meta.managed:
            continue
        yield model


def encrypted_fields():
    """(model, field) for every EncryptedTextField, each on the model that owns its column."""
    for model in _concrete_models():
        for field in model._meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def encrypted_file_fields():
    for model in _concrete_models():
        for field in model._meta.local_concrete_fields:
            if isinstance(field, models.FileField) and isinstance(
                field.storage, EncryptedFileSystemStorage
            ):
                yield model, field


class Command(BaseCommand):
    help = (
        "Re-encrypt all encrypted fields and documents with the first key of "
        "FIELD_ENCRYPTION_KEYS and recompute every blind index with BLIND_INDEX_KEY. "
        "To rotate the encryption key: put the new key first in FIELD_ENCRYPTION_KEYS, keep the "
        "old keys after it, restart, run this command, then remove the old keys. "
        "To rotate BLIND_INDEX_KEY: replace it, restart and run this command at once (exact "
        "lookups and duplicate detection miss rows that are not yet re-indexed). "
        "Values already under the primary key with a current blind index are skipped, so the "
        "command is idempotent and safe to run again after an interruption. A value no "
        "configured key can decrypt stops the command with an error naming the row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows per transaction (default 500).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Decrypt and count what would be re-encrypted, but write nothing.",
        )

    def handle(self, *args, batch_size, dry_run, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            keys.reset()
            keys.check()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.batch_size = batch_size
        self.dry_run = dry_run
        verb = "would re-encrypt" if dry_run else "re-encrypted"

        for model, field in encrypted_fields():
            changed, current = self._rotate_field(model, field)
            self.stdout.write(
                f"{model._meta.label}.{field.name}: {changed} {verb}, {current} already current"
            )
        for model, field in encrypted_file_fields():
            changed, current, plaintext = self._rotate_files(model, field)
            encrypted = "would be encrypted" if dry_run else "encrypted"
            self.stdout.write(
                f"{model._meta.label}.{field.name}: {changed} files {verb}, "
                f"{current} already current"
                + (f", {plaintext} plaintext files {encrypted}" if plaintext else "")
            )
        self.stdout.write(self.style.SUCCESS("Dry run: nothing written." if dry_run else "Done."))

    # -- fields --

    def _rotate_field(self, model, field):
        """Walk the table by primary key, one transaction per batch, rows locked while their
        raw column is read and rewritten."""
        changed = current = 0
        last_pk = None
        while True:
            with transaction.atomic():
                qs = model._base_manager.order_by("pk")
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                if not self.dry_run:
                    qs = qs.select_for_update(of=("self",))
                # Cast to a plain TextField: the raw "<index>:<token>" column, not decrypted.
                rows = list(
                    qs.annotate(**{RAW: Cast(field.attname, models.TextField())}).values_list(
                        "pk", RAW
                    )[: self.batch_size]
                )
                if not rows:
                    break
                last_pk = rows[-1][0]
                stale = []
                for pk, raw in rows:
                    if raw is None or raw == "":
                        continue
                    plain, up_to_date = self._inspect(model, field, pk, raw)
                    if up_to_date:
                        current += 1
                    else:
                        stale.append(model(**{model._meta.pk.attname: pk, field.attname: plain}))
                if stale and not self.dry_run:
                    # bulk_update goes through get_prep_value: a new token under the primary
                    # key and a blind index under the current BLIND_INDEX_KEY.
                    model._base_manager.bulk_update(stale, [field.attname])
                changed += len(stale)
            if len(rows) < self.batch_size:
                break
        return changed, current

    def _inspect(self, model, field, pk, raw):
        index, sep, token = raw.partition(SEPARATOR)
        if not sep or not token:
            raise CommandError(
                f"{model._meta.label} pk={pk}: {field.name} is not in the encrypted format "
                "'<blind index>:<token>'. Nothing after this row was changed."
            )
        try:
            plain = keys.decrypt(token.encode()).decode()
        except keys.DecryptionError:
            raise CommandError(
                f"{model._meta.label} pk={pk}: {field.name} cannot be decrypted with any key in "
                "FIELD_ENCRYPTION_KEYS. Add the key it was written with (after the new primary "
                "key) and run rotate_keys again; batches already done are kept."
            ) from None
        up_to_date = keys.is_current(token.encode()) and index == keys.blind_index(
            field.normalize(plain)
        )
        return plain, up_to_date

    # -- files --

    def _rotate_files(self, model, field):
        changed = current = plaintext = 0
        storage = field.storage
        last_pk = None
        while True:
            with transaction.atomic():
                qs = (
                    model._base_manager.exclude(**{f"{field.attname}__isnull": True})
                    .exclude(**{field.attname: ""})
                    .order_by("pk")
                )
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                if not self.dry_run:
                    # A purge holding the row finishes first; a purged row is then skipped.
                    qs = qs.select_for_update(of=("self",))
                rows = list(qs.values_list("pk", field.attname)[: self.batch_size])
                if not rows:
                    break
                last_pk = rows[-1][0]
                for pk, name in rows:
                    if isinstance(storage, EncryptedStorageWithPlaintextPast) and (
                        storage.is_plaintext(name)
                    ):
                        # Written before the field was encrypted (encrypt_attachments has not
                        # reached it yet): encrypting it now puts it under the primary key.
                        if not self.dry_run:
                            storage.encrypt_legacy(name)
                        plaintext += 1
                        continue
                    try:
                        token = storage.read_raw(name)
                    except FileNotFoundError:
                        raise CommandError(
                            f"{model._meta.label} pk={pk}: the file of {field.name} is missing "
                            "from storage."
                        ) from None
                    if keys.is_current(token):
                        current += 1
                        continue
                    try:
                        new_token = keys.rotate(token)
                    except keys.DecryptionError:
                        raise CommandError(
                            f"{model._meta.label} pk={pk}: the file of {field.name} cannot be "
                            "decrypted with any key in FIELD_ENCRYPTION_KEYS. Add the key it was "
                            "written with and run rotate_keys again."
                        ) from None
                    if not self.dry_run:
                        storage.rewrite_raw(name, new_token)
                    changed += 1
            if len(rows) < self.batch_size:
                break
        return changed, current, plaintext
