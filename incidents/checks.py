"""Start-up checks of the incident settings (SEC-1): a clock of zero, negative or absurd hours,
or an empty batch, would fail every save or every notification later instead of at start."""

from django.conf import settings
from django.core import checks

#: A year in hours: no legal deadline for a breach is longer.
MAX_HOURS = 24 * 366


def check_incident_settings(app_configs=None, **kwargs):
    errors = []
    for name in ("INCIDENT_REGULATOR_HOURS", "INCIDENT_PEOPLE_HOURS"):
        value = getattr(settings, name)
        if not 1 <= value <= MAX_HOURS:
            errors.append(
                checks.Error(
                    f"{name} is {value}: a deadline needs between 1 and {MAX_HOURS} hours.",
                    id="incidents.E001",
                )
            )
    for value in settings.INCIDENT_WARN_HOURS_BEFORE:
        if not 1 <= value <= MAX_HOURS:
            errors.append(
                checks.Error(
                    f"INCIDENT_WARN_HOURS_BEFORE holds {value}: each warning needs between 1 and "
                    f"{MAX_HOURS} hours.",
                    id="incidents.E002",
                )
            )
    for name in (
        "INCIDENT_NOTIFY_BATCH_SIZE",
        "INCIDENT_UPLOAD_MAX_BYTES",
        "INCIDENT_UPLOAD_MAX_ROWS",
    ):
        if getattr(settings, name) < 1:
            errors.append(checks.Error(f"{name} must be at least 1.", id="incidents.E003"))
    return errors
