"""Request references that cannot be enumerated (requests/references.py): a random code with a
check character, unique, found in any case; old sequential references keep working; a typo is a
404 with a message (or an admin warning), never a server error."""

import re
import secrets

import pytest
from django.urls import reverse

from lib import hooks
from requests import references, workflow
from requests.models import DataSubjectRequest, RequestEvent, RequestKind

from .factories import DataSubjectRequestFactory, UserFactory

pytestmark = pytest.mark.django_db

SYMBOL = "[0-9A-HJKMNP-TV-Z]"  # Crockford's base32: no I, L, O, U
SHAPE = re.compile(rf"DSR-(\d{{4}})-{SYMBOL}{{4}}-{SYMBOL}{{4}}-{SYMBOL}")
QUEUE = reverse("admin:requests_datasubjectrequest_changelist")


def detail(reference):
    return reverse("requests:detail", args=[reference])


def body_of(reference):
    """The characters the check covers: year, random part, check character."""
    return reference.replace("-", "")[len(references.PREFIX) :]


def sample_references():
    return [references.generate(2026) for _ in range(25)] + [
        references.build(2026, 0),
        references.build(2026, (1 << 40) - 1),
        references.build(1999, 0x5A5A5A5A5A),
    ]


# --- Format and check character -----------------------------------------------------------------


def test_a_filed_request_gets_a_random_reference_of_the_new_format(user_client, user):
    response = user_client.post(
        reverse("requests:new"),
        {"kind": "access", "subject": "What do you hold?", "description": "Please tell me."},
    )
    req = DataSubjectRequest.objects.get(requester=user)

    assert response.status_code == 302
    assert SHAPE.fullmatch(req.reference)
    assert len(req.reference) == references.LENGTH == 20
    assert references.lookup_values(req.reference) == [req.reference]


def test_references_carry_40_random_bits_not_a_counter(user):
    refs = [DataSubjectRequestFactory(requester=user).reference for _ in range(3)]
    codes = [body_of(ref)[4:12] for ref in refs]

    assert len(set(codes)) == 3
    assert all(len(code) == 8 for code in codes)  # 8 symbols of 5 bits
    # Nothing in them is the row's number.
    for ref in refs:
        pk = DataSubjectRequest.objects.get(reference=ref).pk
        assert f"{pk:06d}" not in ref


def test_every_single_character_typo_is_caught_by_the_check_character():
    for ref in sample_references():
        body = body_of(ref)
        assert references.is_valid(body)
        for position, original in enumerate(body):
            for typed in references.ALPHABET:
                if typed == original:
                    continue
                typo = body[:position] + typed + body[position + 1 :]
                assert not references.is_valid(typo), (ref, position, typed)


def test_every_adjacent_transposition_is_caught_by_the_check_character():
    for ref in sample_references():
        body = body_of(ref)
        for position in range(len(body) - 1):
            a, b = body[position], body[position + 1]
            if a == b:
                continue
            swapped = body[:position] + b + a + body[position + 2 :]
            assert not references.is_valid(swapped), (ref, position)


def test_a_typo_is_reported_as_such_before_any_lookup():
    ref = references.build(2026, 123456789)
    last = ref[-1]
    typo = ref[:-1] + ("0" if last != "0" else "1")

    with pytest.raises(references.InvalidReference) as caught:
        references.lookup_values(typo)
    assert caught.value.code == "check"
    with pytest.raises(references.InvalidReference) as caught:
        references.lookup_values("not a reference")
    assert caught.value.code == "format"


def test_input_is_forgiving_about_case_spaces_hyphens_and_look_alike_letters():
    ref = references.build(2026, 0)  # DSR-2026-0000-0000-?
    assert ref.startswith("DSR-2026-0000-0000-")
    check = ref[-1]

    for typed in (
        ref.lower(),
        f"  {ref}  ",
        ref.replace("-", ""),
        f"dsr 2026 0000 0000 {check.lower()}",
        f"DSR-2026-OOOO-oooo-{check}",  # the letter O for zero
    ):
        assert references.lookup_values(typed) == [ref], typed


# --- Uniqueness ---------------------------------------------------------------------------------


def test_a_reference_already_taken_is_drawn_again_inside_the_transaction(user, monkeypatch):
    taken = DataSubjectRequestFactory(requester=user)
    year = int(taken.reference[4:8])
    DataSubjectRequest.objects.filter(pk=taken.pk).update(reference=references.build(year, 42))
    draws = iter([42, 42, 43])
    monkeypatch.setattr(secrets, "randbits", lambda bits: next(draws))

    req = DataSubjectRequestFactory(requester=user, received_at=taken.received_at)

    assert req.reference == references.build(year, 43)
    # The clash rolled back only its savepoint: the request and its first event are there.
    assert DataSubjectRequest.objects.filter(reference=req.reference).count() == 1
    assert RequestEvent.objects.filter(request=req, kind=RequestEvent.Kind.SUBMITTED).exists()


def test_when_no_free_reference_can_be_drawn_nothing_is_written(user, monkeypatch):
    taken = DataSubjectRequestFactory(requester=user)
    year = int(taken.reference[4:8])
    DataSubjectRequest.objects.filter(pk=taken.pk).update(reference=references.build(year, 7))
    monkeypatch.setattr(secrets, "randbits", lambda bits: 7)

    with pytest.raises(workflow.TransitionError):
        workflow.file_request(
            requester=user,
            kind=RequestKind.ACCESS,
            subject="Again",
            description="Again",
            received_at=taken.received_at,
        )
    assert DataSubjectRequest.objects.count() == 1


# --- Lookup in the account center ---------------------------------------------------------------


def test_lowercase_and_unhyphenated_references_find_the_request(user_client, user):
    req = DataSubjectRequestFactory(requester=user)

    for typed in (req.reference.lower(), req.reference.replace("-", "")):
        response = user_client.get(detail(typed))
        assert response.status_code == 302
        assert response["Location"] == detail(req.reference)
    assert user_client.get(detail(req.reference)).status_code == 200


def test_old_sequential_references_are_still_found(user_client, user):
    req = DataSubjectRequestFactory(requester=user)
    DataSubjectRequest.objects.filter(pk=req.pk).update(reference="DSR-2025-000123")

    assert user_client.get(detail("DSR-2025-000123")).status_code == 200
    assert user_client.get(detail("dsr-2025-000123")).status_code == 302
    assert user_client.get(detail("DSR-2025-000124")).status_code == 404


def test_a_mistyped_reference_is_a_404_that_says_it_is_mistyped(user_client, user):
    req = DataSubjectRequestFactory(requester=user)
    typo = req.reference[:-1] + ("0" if req.reference[-1] != "0" else "1")

    response = user_client.get(detail(typo))

    assert response.status_code == 404
    assert "has a typing mistake" in response.content.decode()


@pytest.mark.parametrize(
    "typed",
    [
        "DSR-2026-0000-0000-U",
        "nonsense",
        "DSR-",
        "DSR-2026-ÄÄÄÄ-0000-0",
        "DSR-٢٠٢٦-0000-0000-0",  # digits of another script
        "DSR-٢٠٢٥-٠٠٠١٢٣",
        "x" * 300,
        "%00",
    ],
)
def test_garbage_references_are_a_404_never_a_server_error(user_client, typed):
    response = user_client.get(detail(typed))

    assert response.status_code == 404
    assert "You have no request with the reference" in response.content.decode()


def test_another_users_reference_is_a_404(client, user):
    req = DataSubjectRequestFactory(requester=user)
    client.force_login(UserFactory())

    assert client.get(detail(req.reference)).status_code == 404
    assert client.get(reverse("requests:withdraw", args=[req.reference])).status_code == 404


# --- Staff: the queue's search and the consent ledger's reference check -------------------------


def queue_refs(client, q):
    response = client.get(QUEUE, {"q": q})
    assert response.status_code == 200
    return {r.reference for r in response.context["cl"].result_list}, [
        str(m) for m in response.context["messages"]
    ]


def test_queue_search_finds_new_and_old_references_in_any_case(client, staff, user):
    new = DataSubjectRequestFactory(requester=user)
    old = DataSubjectRequestFactory(requester=user)
    DataSubjectRequest.objects.filter(pk=old.pk).update(reference="DSR-2024-000042")
    client.force_login(staff)

    assert queue_refs(client, new.reference.lower())[0] == {new.reference}
    assert queue_refs(client, new.reference.replace("-", " "))[0] == {new.reference}
    assert queue_refs(client, "dsr-2024-000042")[0] == {"DSR-2024-000042"}


def test_queue_search_with_a_mistyped_reference_warns_and_finds_nothing(client, staff, user):
    req = DataSubjectRequestFactory(requester=user)
    ref = req.reference
    typo = f"{ref[:-3]}{ref[-1]}-{ref[-3]}"  # the last symbol and the check character swapped
    if typo == ref:  # the two were equal: change one instead
        typo = req.reference[:-1] + ("0" if req.reference[-1] != "0" else "1")
    client.force_login(staff)

    found, flashed = queue_refs(client, typo)

    assert found == set()
    assert any("has a typing mistake" in m for m in flashed)


def test_consent_ledger_reference_check_accepts_any_case_and_refuses_typos(user):
    req = DataSubjectRequestFactory(requester=user)
    typo = req.reference[:-1] + ("0" if req.reference[-1] != "0" else "1")

    assert hooks.reference_exists(user, req.reference.lower())
    assert not hooks.reference_exists(user, typo)
    assert not hooks.reference_exists(UserFactory(), req.reference)
