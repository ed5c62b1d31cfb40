"""Verification moves out of the accounts app into its own: the models keep their tables
(``db_table``), so this migration only takes them over in Django's state, and moves their content
types (and with them their permissions and audit-log entries) to the new app label. Nothing is
copied or rebuilt."""

import django.db.models.deletion
import django.utils.timezone
import phonenumber_field.modelfields
import vault.fields
import verification.models
from django.conf import settings
from django.db import migrations, models


MODELS = ("verification", "verificationdocument", "guardianconsent")


def _move(apps, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types(apps, schema_editor):
    _move(apps, "accounts", "verification")


def move_content_types_back(apps, schema_editor):
    _move(apps, "verification", "accounts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("accounts", "0004_usersession_expires_at"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[

                migrations.CreateModel(
                    name='Verification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('individual', 'Individual'), ('enterprise', 'Enterprise')], max_length=12, verbose_name='kind')),
                        ('status', models.CharField(choices=[('submitted', 'Submitted'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('expired', 'Expired')], default='submitted', max_length=12, verbose_name='status')),
                        ('submitted_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='submitted at')),
                        ('legal_name', models.CharField(blank=True, max_length=100, verbose_name='legal name')),
                        ('document_type', models.CharField(blank=True, choices=[('resident_id', 'Resident identity card'), ('passport', 'Passport'), ('other', 'Other identity document')], max_length=12, verbose_name='document type')),
                        ('document_number', vault.fields.EncryptedTextField(blank=True, plaintext_max_length=30, verbose_name='document number')),
                        ('student_id', models.CharField(blank=True, max_length=40, verbose_name='student ID')),
                        ('institution', models.CharField(blank=True, max_length=200, verbose_name='institution')),
                        ('company_name', models.CharField(blank=True, max_length=200, verbose_name='company name')),
                        ('credit_code', vault.fields.EncryptedTextField(blank=True, plaintext_max_length=18, verbose_name='unified social credit code')),
                        ('legal_rep_name', models.CharField(blank=True, max_length=100, verbose_name='legal representative')),
                        ('legal_rep_id_number', vault.fields.EncryptedTextField(blank=True, plaintext_max_length=30, verbose_name="legal representative's ID number")),
                        ('bank_name', models.CharField(blank=True, max_length=100, verbose_name='bank')),
                        ('bank_branch', models.CharField(blank=True, max_length=200, verbose_name='branch')),
                        ('bank_account', vault.fields.EncryptedTextField(blank=True, plaintext_max_length=30, verbose_name='bank account number')),
                        ('possible_duplicate', models.BooleanField(default=False, help_text='The same ID number or credit code appears on another account.', verbose_name='possible duplicate identity')),
                        ('first_approved_at', models.DateTimeField(blank=True, null=True, verbose_name='first approval at')),
                        ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                        ('rejection_reason', models.TextField(blank=True, verbose_name='reason for rejection')),
                        ('documents_purge_after', models.DateTimeField(blank=True, null=True, verbose_name='documents kept until')),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by')),
                        ('first_approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='first approval by')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verifications', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'verification',
                        'verbose_name_plural': 'verifications',
                        'db_table': 'accounts_verification',
                        'ordering': ['submitted_at'],
                        'permissions': [('view_sensitive_data', 'Can see unmasked ID and account numbers and documents')],
                    },
                ),
                migrations.CreateModel(
                    name='VerificationDocument',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('id_front', 'ID card, front'), ('id_back', 'ID card, back'), ('passport', 'Passport photo page'), ('other_id', 'Identity document'), ('student_id', 'Student ID card'), ('licence', 'Business licence')], max_length=12, verbose_name='kind')),
                        ('file', models.FileField(blank=True, max_length=200, storage=verification.models.document_storage, upload_to=verification.models.document_path)),
                        ('content_type', models.CharField(max_length=100)),
                        ('size', models.PositiveIntegerField()),
                        ('sha256', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('purged_at', models.DateTimeField(blank=True, null=True, verbose_name='deleted at')),
                        ('verification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='documents', to='verification.verification')),
                    ],
                    options={
                        'verbose_name': 'verification document',
                        'verbose_name_plural': 'verification documents',
                        'db_table': 'accounts_verificationdocument',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='GuardianConsent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('guardian_name', models.CharField(max_length=100, verbose_name="guardian's name")),
                        ('guardian_phone', phonenumber_field.modelfields.PhoneNumberField(max_length=128, region=None, verbose_name="guardian's phone")),
                        ('relationship', models.CharField(max_length=50, verbose_name='relationship')),
                        ('status', models.CharField(choices=[('pending', 'Waiting for verification'), ('verified', 'Verified'), ('rejected', 'Rejected')], default='pending', max_length=10, verbose_name='status')),
                        ('recorded_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='recorded at')),
                        ('verified_at', models.DateTimeField(blank=True, null=True, verbose_name='verified at')),
                        ('note', models.TextField(blank=True, verbose_name='note')),
                        ('child', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='guardian_consents', to=settings.AUTH_USER_MODEL, verbose_name='child')),
                        ('verified_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='verified by')),
                    ],
                    options={
                        'verbose_name': 'guardian consent',
                        'verbose_name_plural': 'guardian consents',
                        'db_table': 'accounts_guardianconsent',
                        'ordering': ['-recorded_at'],
                        'indexes': [models.Index(fields=['child', 'status'], name='guardian_child_status_idx')],
                    },
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(fields=['status', 'submitted_at'], name='verification_queue_idx'),
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(fields=['user', '-submitted_at'], name='verification_user_idx'),
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(fields=['document_number'], name='verification_docnum_bidx', opclasses=['text_pattern_ops']),
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(fields=['credit_code'], name='verification_uscc_bidx', opclasses=['text_pattern_ops']),
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(fields=['legal_rep_id_number'], name='verification_repid_bidx', opclasses=['text_pattern_ops']),
                ),
                migrations.AddIndex(
                    model_name='verification',
                    index=models.Index(condition=models.Q(('documents_purge_after__isnull', False)), fields=['documents_purge_after'], name='verification_purge_idx'),
                ),
                migrations.AddConstraint(
                    model_name='verification',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'rejected'), _negated=True), models.Q(('rejection_reason', ''), _negated=True), _connector='OR'), name='verification_rejection_has_reason'),
                ),
                migrations.AddConstraint(
                    model_name='verification',
                    constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['submitted', 'approved'])), fields=('user',), name='verification_one_open_per_user'),
                ),
                migrations.AddConstraint(
                    model_name='verification',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('decided_at__isnull', True), ('status', 'submitted')), models.Q(models.Q(('status', 'submitted'), _negated=True), ('decided_at__isnull', False)), _connector='OR'), name='verification_decided_iff_not_submitted'),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
