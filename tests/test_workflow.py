"""The request lifecycle (requests/workflow.py): every legal transition, every illegal one, the
reference, the timeline, and the deadline as it is filed, paused, resumed and extended (RGT-1..5,
SLA-1)."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from notifications.models import Notification
from requests import emails, workflow
from requests.models import (
    CalendarOverride,
    DataSubjectRequest,
    RefusalGround,
    RequestEvent,
    RequestKind,
    RequestMessage,
    RequestState,
)
from requests.workflow import TransitionError

from .factories import DataSubjectRequestFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
E = RequestEvent.Kind
S = RequestState

# Monday 3 March 2025, 10:00 in Beijing: no holiday within the next month.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)
DUE_T0 = datetime(2025, 3, 18, 23, 59, 59, tzinfo=SHANGHAI)  # day 0 + 15 calendar days


def end_of(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    """Time stands still at T0 until the test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def req(clock, user):
    return DataSubjectRequestFactory(requester=user)


def row(r):
    """What an illegal move must leave untouched."""
    values = DataSubjectRequest.objects.filter(pk=r.pk).values(
        "state",
        "due_at",
        "paused_at",
        "closed_at",
        "extended_at",
        "assignee_id",
        "resolution",
        "refusal_ground",
        "updated_at",
    )
    return {
        **values.get(),
        "events": RequestEvent.objects.filter(request_id=r.pk).count(),
        "messages": RequestMessage.objects.filter(request_id=r.pk).count(),
        "notifications": Notification.objects.filter(key__startswith=f"dsr:{r.pk}:").count(),
    }


def assert_refused(r, move, match=None):
    before = row(r)
    with pytest.raises(TransitionError, match=match):
        move()
    r.refresh_from_db()
    assert row(r) == before


def kinds(r, public=None):
    events = RequestEvent.objects.filter(request=r)
    if public is not None:
        events = events.filter(public=public)
    return list(events.order_by("created_at", "id").values_list("kind", flat=True))


def notification(r, key):
    return Notification.objects.get(key=f"dsr:{r.pk}:{key}")


# --- Filing -------------------------------------------------------------------------------------


def test_filed_request_is_submitted_with_a_15_day_deadline_and_a_public_submitted_event(req, user):
    assert req.state == S.SUBMITTED
    assert req.received_at == T0
    assert req.due_at == req.original_due_at == DUE_T0
    assert req.due_provisional is False
    assert req.acknowledged_at is None and req.paused_at is None and req.closed_at is None
    event = RequestEvent.objects.get(request=req)
    assert (event.kind, event.public, event.actor) == (E.SUBMITTED, True, user)


def test_reference_is_dsr_year_and_a_random_checked_code(req):
    # Details of the format and its check character: tests/test_references.py.
    code = "[0-9A-HJKMNP-TV-Z]"
    assert re.fullmatch(rf"DSR-2025-{code}{{4}}-{code}{{4}}-{code}", req.reference)
    assert str(req) == req.reference


def test_reference_year_is_the_beijing_year_of_receipt(clock, user):
    # 2025-12-31 17:00 UTC is already 1 January 2026 in Beijing.
    clock.move_to(datetime(2026, 1, 1, 9, 0, tzinfo=SHANGHAI))
    received = datetime(2025, 12, 31, 17, 0, tzinfo=ZoneInfo("UTC"))
    r = DataSubjectRequestFactory(requester=user, received_at=received)
    assert r.reference.startswith("DSR-2026-")


def test_staff_entered_request_counts_its_deadline_from_received_at(clock, user, staff):
    received = T0 - timedelta(days=4)  # arrived by letter four days before it was typed in
    r = workflow.file_request(
        requester=user,
        kind=RequestKind.CORRECT,
        subject="Letter",
        description="Please correct my address.",
        channel="letter",
        entered_by=staff,
        received_at=received,
    )
    assert r.received_at == received
    assert r.due_at == r.original_due_at == end_of(2025, 3, 14)
    assert r.entered_by == staff
    assert RequestEvent.objects.get(request=r, kind=E.SUBMITTED).actor == staff


def test_received_at_in_the_future_is_refused_and_nothing_is_stored(clock, user, staff):
    with pytest.raises(TransitionError, match="future"):
        workflow.file_request(
            requester=user,
            kind=RequestKind.ACCESS,
            subject="From the future",
            description="x",
            channel="phone",
            entered_by=staff,
            received_at=T0 + timedelta(hours=1),
        )
    assert not DataSubjectRequest.objects.exists()


def test_urgent_kind_notifies_the_dpo_group_when_filed(clock, user, dpo, staff):
    r = DataSubjectRequestFactory(requester=user, kind=RequestKind.SECURITY_REPORT)
    keys = set(Notification.objects.values_list("key", flat=True))
    assert keys == {f"dsr:{r.pk}:urgent:{dpo.pk}"}  # the DPO, not ordinary staff


# --- start / assign -------------------------------------------------------------------------------


def test_start_moves_submitted_to_in_progress_and_assigns_the_actor(req, staff):
    workflow.start(req, staff)
    assert req.state == S.IN_PROGRESS
    assert req.assignee == staff
    assert req.due_at == DUE_T0  # starting does not touch the clock
    assert kinds(req, public=True) == [E.SUBMITTED, E.STARTED]


def test_start_keeps_an_existing_assignee(req, staff, dpo):
    workflow.assign(req, dpo, actor=staff)
    workflow.start(req, staff)
    assert req.assignee == dpo


def test_start_twice_is_refused(req, staff):
    workflow.start(req, staff)
    assert_refused(req, lambda: workflow.start(req, staff))


def test_assign_records_an_internal_event_only(req, staff, dpo):
    workflow.assign(req, dpo, actor=staff)
    assert req.assignee == dpo
    assert kinds(req, public=False) == [E.ASSIGNED]
    assert kinds(req, public=True) == [E.SUBMITTED]


def test_assign_to_a_non_staff_user_is_refused(req, staff, other_user):
    assert_refused(req, lambda: workflow.assign(req, other_user, actor=staff), match="staff")


# --- ask / reply / resume -----------------------------------------------------------------------


@pytest.mark.parametrize("started", [False, True], ids=["from_submitted", "from_in_progress"])
def test_ask_requester_pauses_the_clock_with_a_public_event_a_message_and_a_notification(
    req, staff, user, started
):
    if started:
        workflow.start(req, staff)
    workflow.ask_requester(req, staff, "  Please send a copy of your ID card.  ")
    assert req.state == S.AWAITING_REQUESTER
    assert req.paused_at == T0
    assert req.due_at == DUE_T0
    event = RequestEvent.objects.get(request=req, kind=E.AWAITING_REQUESTER)
    assert event.public and event.actor == staff
    assert event.detail == "Please send a copy of your ID card."
    message = RequestMessage.objects.get(request=req)
    assert (message.from_staff, message.internal, message.author) == (True, False, staff)
    assert message.body == "Please send a copy of your ID card."
    note = Notification.objects.get(key__startswith=f"dsr:{req.pk}:ask:")
    assert note.to_email == user.email and note.recipient == user
    assert "Please send a copy of your ID card." in note.body
    assert req.reference in note.body  # the link to the account center


def test_ask_requester_without_a_question_is_refused(req, staff):
    assert_refused(req, lambda: workflow.ask_requester(req, staff, "   "))


def test_ask_requester_while_already_waiting_is_refused(req, staff):
    workflow.ask_requester(req, staff, "Which account?")
    assert_refused(req, lambda: workflow.ask_requester(req, staff, "Again?"))


def test_requester_reply_resumes_the_clock_and_moves_the_deadline_by_the_days_waited(
    req, staff, user, clock
):
    workflow.start(req, staff)
    workflow.ask_requester(req, staff, "Which account?")
    clock.shift(timedelta(days=3, hours=2))
    workflow.post_message(req, user, "The one with my work e-mail.")
    assert req.state == S.IN_PROGRESS
    assert req.paused_at is None
    assert req.due_at == DUE_T0 + timedelta(days=3)
    assert req.original_due_at == DUE_T0  # the first deadline given is kept
    resumed = RequestEvent.objects.get(request=req, kind=E.RESUMED)
    assert resumed.public and resumed.actor == user
    assert resumed.data["waited"] == 3
    assert re.search(r"\b3 day", resumed.detail)
    assert "March 21, 2025" in resumed.detail  # the new deadline, told on the timeline
    message = RequestMessage.objects.get(request=req, author=user)
    assert message.from_staff is False and message.internal is False
    assert kinds(req, public=True)[-2:] == [E.RESUMED, E.MESSAGE]


def test_reply_on_the_same_day_does_not_move_the_deadline(req, staff, user, clock):
    workflow.ask_requester(req, staff, "Which account?")
    clock.shift(timedelta(hours=5))
    workflow.post_message(req, user, "This one.")
    assert req.state == S.IN_PROGRESS
    assert req.due_at == DUE_T0
    assert RequestEvent.objects.get(request=req, kind=E.RESUMED).data["waited"] == 0


def test_staff_message_while_waiting_keeps_the_clock_paused_and_notifies_the_requester(
    req, staff, user, clock
):
    workflow.ask_requester(req, staff, "Which account?")
    clock.shift(timedelta(days=1))
    message = workflow.post_message(req, staff, "A reminder: we still need your answer.")
    assert req.state == S.AWAITING_REQUESTER
    assert req.paused_at == T0
    assert message.from_staff is True
    assert "still need your answer" in notification(req, f"message:{message.pk}").body


def test_staff_resume_restarts_the_clock_and_moves_the_deadline(req, staff, clock):
    workflow.ask_requester(req, staff, "Which account?")
    clock.shift(timedelta(days=2))
    workflow.resume(req, staff)
    assert req.state == S.IN_PROGRESS
    assert req.paused_at is None
    assert req.due_at == DUE_T0 + timedelta(days=2)
    assert RequestEvent.objects.get(request=req, kind=E.RESUMED).actor == staff


@pytest.mark.parametrize("state", ["submitted", "in_progress"])
def test_resume_when_not_waiting_is_refused(req, staff, state):
    if state == "in_progress":
        workflow.start(req, staff)
    assert_refused(req, lambda: workflow.resume(req, staff))


def test_internal_note_by_staff_is_hidden_from_the_timeline_and_sends_nothing(req, staff):
    message = workflow.post_message(req, staff, "Checked the CRM; nothing there.", internal=True)
    assert message.internal and message.from_staff
    assert kinds(req, public=False) == [E.NOTE]
    assert E.NOTE not in kinds(req, public=True)
    assert not Notification.objects.exists()


def test_internal_note_by_the_requester_is_refused(req, user):
    assert_refused(
        req, lambda: workflow.post_message(req, user, "secret", internal=True), match="staff"
    )


def test_internal_note_by_staff_who_is_the_requester_is_refused(clock, staff):
    own = DataSubjectRequestFactory(requester=staff)
    assert_refused(own, lambda: workflow.post_message(own, staff, "note", internal=True))


def test_empty_message_is_refused(req, user):
    assert_refused(req, lambda: workflow.post_message(req, user, " \n "), match="empty")


# --- extend -------------------------------------------------------------------------------------


def test_extend_moves_the_deadline_records_the_reason_and_tells_the_requester(req, staff, clock):
    workflow.start(req, staff)
    clock.shift(timedelta(days=1))
    workflow.extend(req, staff, 10, "  The data sits in an archive.  ")
    assert req.due_at == DUE_T0 + timedelta(days=10)
    assert req.original_due_at == DUE_T0
    assert req.extended_at == T0 + timedelta(days=1)
    assert req.extension_reason == "The data sits in an archive."
    event = RequestEvent.objects.get(request=req, kind=E.EXTENDED)
    assert event.public and event.detail == "The data sits in an archive."
    assert datetime.fromisoformat(event.data["previous_due_at"]) == DUE_T0
    body = notification(req, "extended").body
    assert "The data sits in an archive." in body
    assert "March 28, 2025" in body and "March 18, 2025" in body


def test_second_extension_is_refused(req, staff):
    workflow.extend(req, staff, 5, "Archive")
    assert_refused(req, lambda: workflow.extend(req, staff, 5, "Again"), match="already")


def test_extension_after_the_deadline_is_refused(req, staff, clock):
    workflow.start(req, staff)
    clock.move_to(DUE_T0 + timedelta(seconds=1))
    assert_refused(req, lambda: workflow.extend(req, staff, 5, "Late"), match="deadline")


def test_extension_while_paused_counts_the_days_waited_so_far(req, staff, clock):
    """Paused on day 1, the stored deadline has passed on day 16, but the clock has stood still
    for 15 days: the deadline as it stands is still ahead, so an extension is allowed."""
    workflow.start(req, staff)
    clock.move_to(T0 + timedelta(days=1))
    workflow.ask_requester(req, staff, "Which account?")
    clock.move_to(DUE_T0 + timedelta(days=1))
    workflow.extend(req, staff, 5, "The archive is offline.")
    req.refresh_from_db()
    assert req.extended_at is not None
    assert req.due_at == end_of(2025, 3, 23)


@pytest.mark.parametrize(
    ("days", "reason"),
    [
        (0, "Archive"),
        (-1, "Archive"),
        (31, "Archive"),
        ("5", "Archive"),
        (True, "Archive"),
        (5, ""),
        (5, "  "),
    ],
)
def test_extension_with_bad_days_or_no_reason_is_refused(req, staff, days, reason):
    assert_refused(req, lambda: workflow.extend(req, staff, days, reason))


def test_extension_of_the_maximum_is_allowed(req, staff, settings):
    workflow.extend(req, staff, settings.SLA_MAX_EXTENSION_DAYS, "Archive")
    assert req.due_at == DUE_T0 + timedelta(days=settings.SLA_MAX_EXTENSION_DAYS)


# --- complete -----------------------------------------------------------------------------------


def test_complete_closes_the_request_on_time_and_sends_the_answer(req, staff, user, clock):
    workflow.start(req, staff)
    clock.shift(timedelta(days=5))
    workflow.complete(req, staff, "Here is the data we hold.")
    assert req.state == S.COMPLETED
    assert req.closed_at == T0 + timedelta(days=5)
    assert req.answered_on_time is True
    assert req.resolution == "Here is the data we hold."
    assert kinds(req, public=True)[-1] == E.COMPLETED
    note = notification(req, "completed")
    assert note.to_email == user.email
    assert "Here is the data we hold." in note.body


def test_complete_after_the_deadline_is_answered_late(req, staff, clock):
    workflow.start(req, staff)
    clock.move_to(DUE_T0 + timedelta(hours=1))
    workflow.complete(req, staff, "Sorry for the delay.")
    assert req.state == S.COMPLETED
    assert req.answered_on_time is False


def test_complete_at_the_last_second_is_on_time(req, staff, clock):
    workflow.start(req, staff)
    clock.move_to(DUE_T0)
    workflow.complete(req, staff, "Just in time.")
    assert req.answered_on_time is True


def test_complete_from_submitted_is_refused(req, staff):
    assert_refused(req, lambda: workflow.complete(req, staff, "Done"))


def test_complete_while_waiting_for_the_requester_is_refused(req, staff):
    workflow.ask_requester(req, staff, "Which account?")
    assert_refused(req, lambda: workflow.complete(req, staff, "Done"))


def test_complete_without_an_answer_is_refused(req, staff):
    workflow.start(req, staff)
    assert_refused(req, lambda: workflow.complete(req, staff, "  "))


# --- refuse -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ground", RefusalGround.values)
def test_refuse_on_each_ground_closes_and_tells_the_requester_the_remedy(req, staff, ground):
    workflow.refuse(req, staff, ground, "  Explained in detail.  ")
    assert req.state == S.REFUSED
    assert req.refusal_ground == ground
    assert req.refusal_reason == "Explained in detail."
    assert req.closed_at == T0 and req.answered_on_time is True
    event = RequestEvent.objects.get(request=req, kind=E.REFUSED)
    assert event.public and event.data["ground"] == ground
    body = notification(req, "refused").body
    assert emails.remedy_text() in body
    assert str(RefusalGround(ground).label) in body
    assert "Explained in detail." in body


def test_there_are_exactly_eight_refusal_grounds():
    assert len(RefusalGround.values) == 8


def test_refuse_while_waiting_clears_the_pause(req, staff):
    workflow.ask_requester(req, staff, "Which account?")
    workflow.refuse(req, staff, RefusalGround.ABUSE_OF_RIGHTS, "Tenth identical request.")
    assert req.state == S.REFUSED
    assert req.paused_at is None


@pytest.mark.parametrize(
    ("ground", "reason"),
    [("", "Reason"), ("because", "Reason"), (None, "Reason"), ("trade_secrets", " ")],
)
def test_refuse_without_a_valid_ground_or_a_reason_is_refused(req, staff, ground, reason):
    assert_refused(req, lambda: workflow.refuse(req, staff, ground, reason))


# --- withdraw -----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["submitted", "in_progress", "awaiting_requester"])
def test_requester_can_withdraw_an_open_request(req, staff, user, state):
    if state == "in_progress":
        workflow.start(req, staff)
    elif state == "awaiting_requester":
        workflow.ask_requester(req, staff, "Which account?")
    workflow.withdraw(req, user)
    assert req.state == S.WITHDRAWN
    assert req.closed_at == T0
    assert req.paused_at is None
    event = RequestEvent.objects.get(request=req, kind=E.WITHDRAWN)
    assert event.public and event.actor == user


def test_withdraw_by_another_user_is_refused(req, other_user):
    assert_refused(req, lambda: workflow.withdraw(req, other_user), match="requester")


def test_withdraw_by_staff_is_refused(req, staff):
    assert_refused(req, lambda: workflow.withdraw(req, staff), match="requester")


# --- closed requests ----------------------------------------------------------------------------

CLOSERS = {
    "completed": lambda r, staff: (
        workflow.start(r, staff),
        workflow.complete(r, staff, "Answered."),
    ),
    "refused": lambda r, staff: workflow.refuse(r, staff, "trade_secrets", "Secret."),
    "withdrawn": lambda r, staff: workflow.withdraw(r, r.requester),
}

MOVES = {
    "assign": lambda r, staff: workflow.assign(r, staff, staff),
    "start": lambda r, staff: workflow.start(r, staff),
    "ask": lambda r, staff: workflow.ask_requester(r, staff, "Question?"),
    "resume": lambda r, staff: workflow.resume(r, staff),
    "message_from_requester": lambda r, staff: workflow.post_message(r, r.requester, "Hello?"),
    "message_from_staff": lambda r, staff: workflow.post_message(r, staff, "Hello."),
    "extend": lambda r, staff: workflow.extend(r, staff, 5, "Archive"),
    "complete": lambda r, staff: workflow.complete(r, staff, "Answer."),
    "refuse": lambda r, staff: workflow.refuse(r, staff, "trade_secrets", "Secret."),
    "withdraw": lambda r, staff: workflow.withdraw(r, r.requester),
}


@pytest.mark.parametrize("closed", CLOSERS)
@pytest.mark.parametrize("move", MOVES)
def test_nothing_can_be_done_to_a_closed_request(req, staff, closed, move):
    CLOSERS[closed](req, staff)
    req.refresh_from_db()
    assert req.state == closed
    assert_refused(req, lambda: MOVES[move](req, staff))


# --- timeline -----------------------------------------------------------------------------------


def test_timeline_shows_public_events_in_order_and_hides_internal_ones(
    req, staff, dpo, user, clock
):
    workflow.assign(req, dpo, actor=staff)
    clock.shift(timedelta(hours=1))
    workflow.start(req, dpo)
    clock.shift(timedelta(hours=1))
    workflow.post_message(req, dpo, "Looked in the CRM.", internal=True)
    clock.shift(timedelta(hours=1))
    workflow.ask_requester(req, dpo, "Which account?")
    clock.shift(timedelta(days=1))
    workflow.post_message(req, user, "The old one.")
    clock.shift(timedelta(hours=1))
    workflow.extend(req, dpo, 3, "Archive")
    clock.shift(timedelta(hours=1))
    workflow.complete(req, dpo, "Done.")
    assert kinds(req, public=True) == [
        E.SUBMITTED,
        E.STARTED,
        E.AWAITING_REQUESTER,
        E.RESUMED,
        E.MESSAGE,
        E.EXTENDED,
        E.COMPLETED,
    ]
    assert kinds(req, public=False) == [E.ASSIGNED, E.NOTE]


# --- database constraints -----------------------------------------------------------------------


def test_database_rejects_a_refused_row_without_a_ground(req):
    with pytest.raises(IntegrityError), transaction.atomic():
        DataSubjectRequest.objects.filter(pk=req.pk).update(state="refused", closed_at=T0)
    req.refresh_from_db()
    assert req.state == S.SUBMITTED


def test_database_rejects_a_waiting_row_without_a_pause_time(req):
    with pytest.raises(IntegrityError), transaction.atomic():
        DataSubjectRequest.objects.filter(pk=req.pk).update(state="awaiting_requester")


def test_database_rejects_a_closed_row_without_closed_at(req):
    with pytest.raises(IntegrityError), transaction.atomic():
        DataSubjectRequest.objects.filter(pk=req.pk).update(state="completed")


def test_database_rejects_an_extension_without_a_reason(req):
    with pytest.raises(IntegrityError), transaction.atomic():
        DataSubjectRequest.objects.filter(pk=req.pk).update(extended_at=T0)


def test_database_rejects_an_internal_message_not_from_staff(req, user):
    with pytest.raises(IntegrityError), transaction.atomic():
        RequestMessage.objects.create(
            request=req, author=user, from_staff=False, internal=True, body="x"
        )


# --- working days -------------------------------------------------------------------------------

# 2025 National Day: 1-8 October off, Saturday 11 October a working day. Received on Tuesday
# 30 September at 00:30 in Beijing (still 29 September in UTC), day 0 is 30 September:
#   Oct 9 (1), 10 (2), Sat 11 (3), 13-17 (4-8), 20-24 (9-13), 27 (14), 28 (15).
RECEIVED_BEFORE_HOLIDAY = datetime(2025, 9, 30, 0, 30, tzinfo=SHANGHAI)


@pytest.fixture
def workdays(settings):
    settings.SLA_CALENDAR = "workdays"
    with time_machine.travel(datetime(2025, 9, 30, 9, 0, tzinfo=SHANGHAI), tick=False) as t:
        yield t


def test_workdays_deadline_skips_national_day_and_counts_the_adjusted_saturday(workdays, user):
    r = DataSubjectRequestFactory(requester=user, received_at=RECEIVED_BEFORE_HOLIDAY)
    assert r.due_at == end_of(2025, 10, 28)
    assert r.due_provisional is False


def test_workdays_calendar_override_day_off_moves_the_deadline_later(workdays, user):
    CalendarOverride.objects.create(date=datetime(2025, 10, 15).date(), is_workday=False)
    r = DataSubjectRequestFactory(requester=user, received_at=RECEIVED_BEFORE_HOLIDAY)
    assert r.due_at == end_of(2025, 10, 29)


def test_workdays_pause_moves_the_deadline_by_working_days_waited(workdays, user, staff):
    r = DataSubjectRequestFactory(requester=user, received_at=RECEIVED_BEFORE_HOLIDAY)
    workdays.move_to(datetime(2025, 10, 9, 10, 0, tzinfo=SHANGHAI))  # Thursday
    workflow.ask_requester(r, staff, "Which account?")
    workdays.move_to(datetime(2025, 10, 13, 10, 0, tzinfo=SHANGHAI))  # Monday
    workflow.post_message(r, user, "The old one.")
    # Waited Fri 10, Sat 11 (working), Mon 13 = 3 working days: 28 Oct -> 31 Oct.
    assert RequestEvent.objects.get(request=r, kind=E.RESUMED).data["waited"] == 3
    assert r.due_at == end_of(2025, 10, 31)
