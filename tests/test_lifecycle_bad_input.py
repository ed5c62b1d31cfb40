"""Bad input to the lifecycle pages (exports, deletion, certificates, retention rules, legal
holds, recipients' callbacks) and to the kinds' request forms: a 4xx or a form error, never a
500. NUL bytes anywhere are refused with 400 before they reach the database."""

import pytest

from lifecycle.models import RetentionRule

from .factories import UserFactory

pytestmark = pytest.mark.django_db

BAD = ["", "\x00", "x" * 5000, "-1", "０１２", "<script>", "99999999999999999999"]

GETS = [
    "/privacy/certificate/?code={}",
    "/account/requests/new/?kind={}",
    "/admin/lifecycle/legalhold/?q={}",
    "/admin/lifecycle/legalhold/?current={}",
    "/admin/lifecycle/retentionrule/?q={}",
    "/admin/lifecycle/erasurerecord/?q={}",
    "/admin/lifecycle/erasurerecord/?backups={}",
    "/admin/lifecycle/accountdeletion/?q={}",
    "/admin/lifecycle/dataexport/?q={}",
    "/admin/lifecycle/recipienterasure/?q={}",
]


def posts(value, rule_pk):
    return [
        ("/account/delete/", {"code": value, "password": value, "confirm": value}),
        ("/account/delete/scheduled/", {"x": value}),
        ("/account/data/exports/", {"x": value}),
        ("/account/requests/new/", {"kind": value, "subject": value, "description": value}),
        (
            "/account/requests/new/",
            {
                "kind": "correct",
                "fields": [value, "email"],
                "new_email": value,
                "new_phone": value,
                "new_date_of_birth": value,
                "subject": "s",
                "description": "d",
            },
        ),
        ("/account/requests/new/", {"kind": "correct", "send_phone_code": "1", "new_phone": value}),
        (
            "/account/requests/new/",
            {"kind": "delete_data", "categories": [value], "subject": "s", "description": "d"},
        ),
        ("/privacy/erasure-ack/1/abc/", {"x": value}),
        (
            "/admin/lifecycle/legalhold/add/",
            {
                "scope": value,
                "user": value,
                "request": value,
                "category": value,
                "reason": value,
                "starts_at_0": value,
                "ends_at_0": value,
            },
        ),
        (
            f"/admin/lifecycle/retentionrule/{rule_pk}/change/",
            {"period_days": value, "clock": value, "action": value, "cap": value},
        ),
    ]


def test_bad_input_never_gives_a_server_error(client):
    people = [None, UserFactory(), UserFactory(is_staff=True, is_superuser=True)]
    rule_pk = RetentionRule.objects.values_list("pk", flat=True).first()
    failures = []
    for person in people:
        client.logout()
        if person is not None:
            client.force_login(person)
        for value in BAD:
            for url in GETS:
                status = client.get(url.format(value)).status_code
                if status >= 500:
                    failures.append((url, value, status))
            for path, data in posts(value, rule_pk):
                status = client.post(path, data).status_code
                if status >= 500:
                    failures.append((path, value, status))
    assert not failures


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/privacy/certificate/", {"code": "AB\x00CD"}),
        ("get", "/admin/lifecycle/legalhold/", {"q": "\x00"}),
        ("post", "/account/requests/new/", {"subject": "a\x00b"}),
        ("get", "/account/requests/DSR%00x/", {}),
    ],
)
def test_a_nul_byte_is_a_bad_request(client, method, url, data):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = getattr(client, method)(url, data)
    assert response.status_code == 400
    assert b"NUL" in response.content
