"""The records of processing (AUD-1) printed from the registry, as a command and an admin page,
and the DPO's early carrying out of a verified account deletion (RGT-3)."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from lib.registry import registry
from lifecycle import deletion
from lifecycle.models import AccountDeletion

from .factories import RecipientFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

MAP_URL = "/admin/personal-data-map/"


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


def run_map(*args):
    out = io.StringIO()
    call_command("personal_data_map", *args, stdout=out)
    return out.getvalue()


def declared_fields():
    return sum(len(d.fields) for d in registry.declarations)


def test_map_in_json_has_one_row_per_declared_field_with_its_category_and_basis():
    rows = json.loads(run_map("--format", "json"))

    assert len(rows) == declared_fields()
    phone = next(
        r for r in rows if r["model"].endswith("(accounts.User)") and "(phone)" in r["field"]
    )
    assert phone["category_code"] == "account"
    assert "PIPL" in phone["legal_basis"]
    assert phone["correction"] == "by request"
    email = next(
        r for r in rows if r["model"].endswith("(accounts.User)") and "(email)" in r["field"]
    )
    assert (email["category_code"], email["correction"]) == ("profile", "self-service")
    ledger = [r for r in rows if "(consent.ConsentEvent)" in r["model"]]
    assert ledger and all(r["erasure"].startswith("kept") for r in ledger)


def test_map_names_the_recipients_of_each_category():
    RecipientFactory(name="Harbour Mail Test", data_categories=["profile"])
    RecipientFactory(
        name="Ended Partner",
        data_categories=["profile"],
        active_to="2000-01-02",
        active_from="2000-01-01",
    )

    rows = json.loads(run_map("--format", "json"))

    profile = [r for r in rows if r["category_code"] == "profile"]
    assert profile and all("Harbour Mail Test" in r["recipients"] for r in profile)
    assert not any("Ended Partner" in r["recipients"] for r in rows)
    assert not any(
        "Harbour Mail Test" in r["recipients"] for r in rows if r["category_code"] == "account"
    )


def test_map_in_csv_and_markdown_has_a_header_and_every_row():
    table = list(csv.reader(io.StringIO(run_map("--format", "csv"))))
    assert table[0][:3] == ["Model", "Field", "Category"]
    assert len(table) == declared_fields() + 1

    markdown = run_map("--format", "md").splitlines()
    assert markdown[0].startswith("| Model | Field | Category |")
    assert len(markdown) == declared_fields() + 2


def test_map_in_chinese_translates_categories():
    rows = json.loads(run_map("--format", "json", "--language", "zh-hans"))
    account = next(r for r in rows if r["category_code"] == "account")
    assert account["category"] != "Account"


def test_map_refuses_an_unknown_format():
    with pytest.raises(CommandError):
        call_command("personal_data_map", "--format", "xml")


def test_map_page_needs_its_permission(client):
    staff = StaffFactory()
    client.force_login(staff)
    assert client.get(MAP_URL).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_processing_records"))
    response = client.get(MAP_URL)
    assert response.status_code == 200
    assert len(response.context["rows"]) == declared_fields()
    assert "(accounts.User)" in response.content.decode()


def test_map_page_is_for_staff_only(client):
    assert client.get(MAP_URL).status_code == 302  # to the admin login
    client.force_login(UserFactory())
    assert client.get(MAP_URL).status_code == 302


def test_cockpit_links_to_the_map_for_those_allowed(admin_client):
    assert MAP_URL in admin_client.get(reverse("admin:index")).content.decode()


# --- Carrying out a verified deletion early -------------------------------------------------------


def carry_out_url(scheduled):
    return reverse("admin:lifecycle_accountdeletion_carry_out", args=[scheduled.pk])


def test_dpo_carries_out_a_scheduled_deletion_now(admin_client, admin_user):
    user = UserFactory()
    scheduled = deletion.schedule(user, channel=AccountDeletion.Channel.WEB)

    page = admin_client.get(carry_out_url(scheduled))
    assert page.status_code == 200 and b"Carry out now" in page.content
    response = admin_client.post(carry_out_url(scheduled), {"confirm": "on"})

    assert response.status_code == 302
    scheduled.refresh_from_db()
    user.refresh_from_db()
    assert scheduled.status == "done" and user.is_erased
    assert scheduled.erasures.get().actor == admin_user


def test_carrying_out_needs_the_confirmation(admin_client):
    scheduled = deletion.schedule(UserFactory(), channel=AccountDeletion.Channel.WEB)
    response = admin_client.post(carry_out_url(scheduled), {})
    assert response.status_code == 200
    scheduled.refresh_from_db()
    assert scheduled.status == "scheduled"


def test_carrying_out_needs_its_permission(client):
    scheduled = deletion.schedule(UserFactory(), channel=AccountDeletion.Channel.WEB)
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_accountdeletion"))
    client.force_login(staff)

    assert client.post(carry_out_url(scheduled), {"confirm": "on"}).status_code == 403
    change = client.get(reverse("admin:lifecycle_accountdeletion_change", args=[scheduled.pk]))
    assert b"Carry out now" not in change.content
    scheduled.refresh_from_db()
    assert scheduled.status == "scheduled"


def test_a_cancelled_deletion_cannot_be_carried_out(admin_client):
    user = UserFactory()
    scheduled = deletion.schedule(user, channel=AccountDeletion.Channel.WEB)
    deletion.cancel(user)

    response = admin_client.post(carry_out_url(scheduled), {"confirm": "on"}, follow=True)

    assert "Only a scheduled deletion" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_erased


def test_admin_shows_whether_a_certificate_signature_is_valid(admin_client):
    done = deletion.delete_now(UserFactory())
    url = reverse("admin:lifecycle_accountdeletion_change", args=[done.pk])
    assert ">valid (" in admin_client.get(url).content.decode()

    AccountDeletion.objects.filter(pk=done.pk).update(
        certificate={**done.certificate, "files_erased": 99}
    )
    assert "NOT VALID" in admin_client.get(url).content.decode()


def test_users_cannot_be_deleted_plainly_in_the_admin(admin_client):
    user = UserFactory()
    response = admin_client.post(
        reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert user.__class__.objects.filter(pk=user.pk).exists()
