"""Serving private files: one place for the headers that keep a download from being rendered,
sniffed or cached, and for the audit entry that says who fetched it (VER-4, AUD-1)."""

from auditlog.signals import accessed
from django.http import FileResponse, Http404


def serve_private_file(instance, field_file, *, filename, content_type, inline=False):
    """Stream ``field_file`` of ``instance`` to a caller that has already checked permission,
    and record an ACCESS entry for ``instance`` once the file is open. A missing file is a 404."""
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is no longer held.") from None
    accessed.send(sender=type(instance), instance=instance)
    response = FileResponse(
        handle, as_attachment=not inline, filename=filename, content_type=content_type
    )
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
