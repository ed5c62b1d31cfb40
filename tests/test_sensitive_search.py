"""Finding a verification by its number (VER-4): never through the search box, only by a POST
form for staff with the sensitive-data permission, answered with an opaque key in the web
address, and audited without the number."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from verification import services as service
from verification.models import Verification

from .factories import (
    BANK_CARD,
    RESIDENT_ID,
    USCC,
    EnterpriseVerificationFactory,
    StaffFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:verification_verification_changelist")
FIND = reverse("admin:verification_verification_find")
PASSPORT = "E12345678"
REVIEW_PERMS = ("view_verification", "change_verification")
NUMBERS = (RESIDENT_ID, USCC, BANK_CARD, PASSPORT)


def _with_perms(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="verification", codename__in=codenames)
    )
    return user


@pytest.fixture
def reviewer(db):
    """Reviews verifications, sees numbers masked."""
    return _with_perms(StaffFactory(), *REVIEW_PERMS)


@pytest.fixture
def privileged(db):
    return _with_perms(StaffFactory(), *REVIEW_PERMS, "view_sensitive_data")


@pytest.fixture
def world(db):
    person = VerificationFactory()
    rejected = VerificationFactory(
        status="rejected", rejection_reason="Blurred.", decided_at=timezone.now()
    )
    company = EnterpriseVerificationFactory()  # its legal representative has RESIDENT_ID too
    traveller = VerificationFactory(document_type="passport", document_number=PASSPORT)
    other = VerificationFactory(document_number="110105194912310011")
    return {
        "person": person,
        "rejected": rejected,
        "company": company,
        "traveller": traveller,
        "other": other,
    }


def search_entries(actor=None):
    entries = AuditLogEntry.objects.filter(
        action=AuditLogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(Verification),
        object_repr="search",
    )
    return entries.filter(actor=actor) if actor is not None else entries


def assert_no_number_in(text):
    for number in NUMBERS:
        for form in (number, number.lower(), number[-8:]):
            assert form not in text, form


def find(client, number, **extra):
    return client.post(FIND, {"number": number}, **extra)


def listed(response):
    return sorted(v.pk for v in response.context["cl"].result_list)


# --- The search box never looks at numbers ------------------------------------------------------


@pytest.mark.parametrize("number", [RESIDENT_ID, RESIDENT_ID.lower(), USCC, BANK_CARD, PASSPORT])
@pytest.mark.parametrize("who", ["reviewer", "privileged"])
def test_a_number_in_the_search_box_finds_nothing(client, world, request, who, number):
    client.force_login(request.getfixturevalue(who))

    response = client.get(QUEUE, {"q": number, "status": "all"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_the_search_box_points_privileged_staff_to_the_number_search(client, world, privileged):
    client.force_login(privileged)

    html = client.get(QUEUE, {"q": RESIDENT_ID}).content.decode()

    assert "use “Find by number”" in html
    assert f'href="{FIND}"' in html


def test_the_search_box_tells_others_the_number_search_needs_the_permission(
    client, world, reviewer
):
    client.force_login(reviewer)

    html = client.get(QUEUE, {"q": USCC}).content.decode()

    assert "needs the permission for sensitive data" in html
    assert f'href="{FIND}"' not in html


# --- The number search ----------------------------------------------------------------------------


def test_staff_without_the_permission_get_403_and_nothing_is_audited(client, world, reviewer):
    client.force_login(reviewer)

    assert client.get(FIND).status_code == 403
    assert find(client, RESIDENT_ID).status_code == 403
    assert not search_entries().exists()


def test_staff_without_view_permission_get_403(client, world):
    client.force_login(_with_perms(StaffFactory(), "view_sensitive_data"))

    assert find(client, RESIDENT_ID).status_code == 403
    assert not search_entries().exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    response = find(client, RESIDENT_ID)

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert_no_number_in(response["Location"])
    assert not search_entries().exists()


def test_the_form_is_offered_to_privileged_staff_only(client, world, privileged, reviewer):
    client.force_login(privileged)
    assert client.get(FIND).status_code == 200
    assert f'href="{FIND}"' in client.get(QUEUE).content.decode()

    client.force_login(reviewer)
    assert f'href="{FIND}"' not in client.get(QUEUE).content.decode()


def test_a_resident_id_finds_every_verification_holding_it_in_every_status(
    client, world, privileged
):
    client.force_login(privileged)

    response = find(client, " ".join([RESIDENT_ID[:6], RESIDENT_ID[6:14], RESIDENT_ID[14:]]))

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{QUEUE}?found=")
    assert_no_number_in(location)
    results = client.get(location)
    assert results.status_code == 200
    expected = [world[name].pk for name in ("person", "rejected", "company")]
    assert listed(results) == sorted(expected)
    html = results.content.decode()
    assert "3 verifications have the number you searched for." in html
    assert_no_number_in(html)


@pytest.mark.parametrize(
    ("number", "names"),
    [
        (USCC.lower(), ["company"]),
        ("6222 0202 0011 2233 446", ["company"]),
        (PASSPORT, ["traveller"]),
        ("110105194912310011", ["other"]),
    ],
)
def test_each_kind_of_number_is_found_by_exact_match(client, world, privileged, number, names):
    client.force_login(privileged)

    response = find(client, number, follow=True)

    assert listed(response) == sorted(world[name].pk for name in names)
    for url, _status in response.redirect_chain:
        assert_no_number_in(url)


def test_part_of_a_number_finds_nothing(client, world, privileged):
    client.force_login(privileged)

    response = find(client, RESIDENT_ID[:-1])

    assert response.status_code == 200
    html = response.content.decode()
    assert "No verification has that number." in html
    assert_no_number_in(html)
    (entry,) = search_entries(privileged)
    assert entry.additional_data == {"search": "number", "hits": 0}


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "12", "<script>", "1" * 31, "１１０１０５", "AB_1234", "a" * 61],
)
def test_bad_input_is_a_form_error_not_a_search(client, world, privileged, bad):
    client.force_login(privileged)

    response = find(client, bad)

    assert response.status_code == 200
    assert response.context["form"].errors["number"]
    assert not search_entries().exists()


def test_a_nul_byte_is_refused_before_any_search(client, world, privileged):
    client.force_login(privileged)

    assert find(client, "E123\x00456").status_code == 400
    assert not search_entries().exists()


def test_each_search_is_audited_without_the_number(client, world, privileged):
    client.force_login(privileged)

    find(client, RESIDENT_ID)
    find(client, USCC)

    entries = list(search_entries(privileged).order_by("id"))
    assert [e.additional_data["hits"] for e in entries] == [3, 1]
    for entry in entries:
        assert entry.actor == privileged
        assert entry.timestamp is not None
        assert entry.remote_addr == "127.0.0.1"
        text = json.dumps(
            [
                entry.object_pk,
                entry.object_repr,
                entry.changes,
                entry.changes_text,
                entry.serialized_data,
                entry.additional_data,
            ]
        )
        assert_no_number_in(text)


def test_results_belong_to_the_session_that_searched(client, world, privileged):
    client.force_login(privileged)
    location = find(client, RESIDENT_ID)["Location"]

    colleague = Client()
    colleague.force_login(_with_perms(StaffFactory(), *REVIEW_PERMS, "view_sensitive_data"))
    response = colleague.get(location)

    assert response.status_code == 302
    assert response["Location"] == FIND


def test_results_expire(client, world, privileged):
    client.force_login(privileged)
    location = find(client, RESIDENT_ID)["Location"]

    assert client.get(location).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = client.get(location, follow=True)

    assert response.redirect_chain[-1][0] == FIND
    assert "expired" in response.content.decode()


def test_an_unknown_key_finds_nothing(client, world, privileged):
    client.force_login(privileged)

    response = client.get(QUEUE, {"found": "not-a-key"})

    assert response.status_code == 302 and response["Location"] == FIND


def test_staff_who_lose_the_permission_cannot_open_their_results(client, world, privileged):
    client.force_login(privileged)
    location = find(client, RESIDENT_ID)["Location"]
    privileged.user_permissions.remove(Permission.objects.get(codename="view_sensitive_data"))

    assert client.get(location).status_code == 403


def test_the_results_page_lists_numbers_masked(client, world, privileged):
    client.force_login(privileged)

    html = client.get(find(client, RESIDENT_ID)["Location"]).content.decode()

    assert_no_number_in(html)


def test_find_by_number_uses_the_blind_index_only(db):
    """Exact lookups on the encrypted columns (the field refuses any other)."""
    user = UserFactory()
    verification = VerificationFactory(user=user)

    assert list(service.find_by_number(RESIDENT_ID.lower())) == [verification]
    assert list(service.find_by_number("")) == []
    sql = str(service.find_by_number(RESIDENT_ID).query)
    assert RESIDENT_ID not in sql
