"""The `requests` app shadows the PyPI HTTP library of the same name (STACK.md): nothing we
install may need that library, or it would import our app instead and break."""

from importlib.metadata import distributions

from packaging.requirements import Requirement


def _requires_requests(requirement: str) -> bool:
    req = Requirement(requirement)
    if req.name.lower().replace("_", "-") != "requests":
        return False
    # A requirement behind an extra ("requests; extra == 'ocsp'") applies only when that extra
    # is installed; evaluate it with no extra, as pip did.
    return req.marker is None or req.marker.evaluate({"extra": ""})


def test_no_installed_distribution_requires_the_requests_library():
    offenders = sorted(
        f"{dist.metadata['Name']} requires {requirement}"
        for dist in distributions()
        for requirement in dist.requires or []
        if _requires_requests(requirement)
    )
    assert offenders == []


def test_the_requests_library_is_not_installed():
    names = {(dist.metadata["Name"] or "").lower() for dist in distributions()}
    assert "requests" not in names


def test_import_requests_gives_the_portal_app():
    from django.conf import settings

    import requests

    assert requests.__file__ == str(settings.BASE_DIR / "requests" / "__init__.py")
