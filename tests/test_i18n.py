"""The Simplified Chinese catalog: complete, compiled, in step with the code, and used."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PO_PATH = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
MAKEMESSAGES_IGNORES = [".venv", "tests", "var", "staticfiles"]
CJK = re.compile(r"[\u3400-\u9fff]")


def _key(entry):
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


def _value(entry):
    if entry.msgid_plural:
        return tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
    return entry.msgstr


def _live_entries(catalog):
    return [e for e in catalog if not e.obsolete and e.msgid != ""]


def _translation_of(msgid):
    for entry in _live_entries(polib.pofile(str(PO_PATH))):
        if entry.msgid == msgid and not entry.msgctxt:
            return entry.msgstr
    pytest.fail(f"{msgid!r} is not in {PO_PATH}")


def test_chinese_catalog_has_no_untranslated_or_fuzzy_strings():
    catalog = polib.pofile(str(PO_PATH))
    untranslated = [e.msgid for e in catalog.untranslated_entries() if not e.obsolete]
    fuzzy = [e.msgid for e in catalog.fuzzy_entries() if not e.obsolete and e.msgid != ""]
    assert not untranslated, "Untranslated in django.po:\n" + "\n".join(untranslated)
    assert not fuzzy, "Fuzzy in django.po:\n" + "\n".join(fuzzy)
    assert "fuzzy" not in catalog.metadata_is_fuzzy, "the header of django.po is fuzzy"


def test_compiled_catalog_matches_the_po_file():
    assert MO_PATH.is_file(), f"{MO_PATH} is missing: run manage.py compilemessages"
    po = {
        _key(e): _value(e)
        for e in _live_entries(polib.pofile(str(PO_PATH)))
        if e.translated() and "fuzzy" not in e.flags
    }
    mo = {_key(e): _value(e) for e in _live_entries(polib.mofile(str(MO_PATH)))}
    stale = sorted(
        (k[1] for k in po.keys() | mo.keys() if po.get(k) != mo.get(k)), key=str.casefold
    )
    assert not stale, (
        "django.mo differs from django.po (run manage.py compilemessages) for:\n" + "\n".join(stale)
    )


def test_catalog_covers_every_string_in_the_code(tmp_path):
    if shutil.which("xgettext") is None:
        pytest.skip("xgettext (GNU gettext) is not on PATH, so makemessages cannot run")
    locale_dir = tmp_path / "locale"
    shutil.copytree(BASE_DIR / "locale", locale_dir)
    # makemessages also writes into any locale/ folder it finds under the working directory,
    # so it runs in a copy of the sources without one: the committed catalog is never touched.
    source_dir = tmp_path / "src"
    shutil.copytree(
        BASE_DIR,
        source_dir,
        ignore=shutil.ignore_patterns(".*", "__pycache__", "locale", *MAKEMESSAGES_IGNORES),
    )
    committed_before = PO_PATH.read_bytes()
    env = {
        **os.environ,
        "DJANGO_LOCALE_DIR": str(locale_dir),
        "DJANGO_DEBUG": "true",
        "DJANGO_ENV_FILE": "none",
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            *(f"--ignore={pattern}" for pattern in MAKEMESSAGES_IGNORES),
            "--no-obsolete",
        ],
        cwd=source_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert PO_PATH.read_bytes() == committed_before, "makemessages changed the committed .po"

    committed = {_key(e) for e in _live_entries(polib.pofile(str(PO_PATH)))}
    regenerated = polib.pofile(str(locale_dir / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    missing = sorted(
        (e.msgid for e in _live_entries(regenerated) if _key(e) not in committed),
        key=str.casefold,
    )
    assert not missing, (
        "Strings in the code that locale/zh_Hans/LC_MESSAGES/django.po lacks (run makemessages, "
        "translate, compilemessages):\n" + "\n".join(missing)
    )


@pytest.mark.django_db
def test_browser_asking_for_chinese_gets_chinese_pages_and_errors(client):
    sign_in = _translation_of("Sign in")
    assert sign_in and CJK.search(sign_in)

    response = client.get("/account/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert sign_in in page
    assert ">Sign in<" not in page

    response = client.post(
        "/account/login/", {"phone": "12", "send": "1"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert response.status_code == 200
    errors = re.findall(r'<p class="error"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    assert errors, "the invalid phone number produced no error message"
    assert all(CJK.search(error) for error in errors), errors
    assert not any("Enter a valid" in error for error in errors), errors
