"""The verification models now belong to the verification app (see its first migration):
they leave this app's state only; their tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_usersession_expires_at'),
        ('verification', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[

                migrations.RemoveField(
                    model_name='verification',
                    name='decided_by',
                ),
                migrations.RemoveField(
                    model_name='verification',
                    name='first_approved_by',
                ),
                migrations.RemoveField(
                    model_name='verification',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='verificationdocument',
                    name='verification',
                ),
                migrations.DeleteModel(
                    name='GuardianConsent',
                ),
                migrations.DeleteModel(
                    name='Verification',
                ),
                migrations.DeleteModel(
                    name='VerificationDocument',
                ),
            ],
        ),
    ]
