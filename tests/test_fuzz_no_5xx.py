"""No input gives a server error: generated values in every URL parameter, query string and form
field of every page, the admin's included, as a signed-out visitor, a user and staff.

The pages come from the URL resolver (nothing is listed by hand, so a new page is fuzzed the day
it is added); each page's fields come from the page itself: its GET is rendered and the names of
its <input>, <select> and <textarea> elements, and of the query parameters of its own links
(the admin's list filters, sorting, paging), are read with html.parser. Path parameters get a
valid value (an object that exists) or a generated one. Then hypothesis sends generated query
strings and form bodies: unicode, control characters, NUL bytes, 100 000-character values,
numbers where text is expected and text where numbers are, repeated keys, empty and missing
fields, and files of random bytes. Any 5xx fails, with the URL, method, persona and payload.

Every request runs in a savepoint that is rolled back, and the client's cookies are reset
before it: the examples are independent (a sign-out, a deletion or a rate-limit count does not
leak into the next one) and on_commit work (e-mail, webhooks, Celery) never starts, so nothing
reaches the network.

`make test` runs it with a small budget (FUZZ_EXAMPLES examples per page and persona);
`FUZZ_EXAMPLES=200 pytest -m fuzz -n 2` searches deeper. The search is derandomized: the same
code gives the same examples, in CI too.
"""

from __future__ import annotations

import io
import os
import re
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from .uploads import MINIMAL_PDF

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
SHRINK = os.environ.get("FUZZ_SHRINK", "1") != "0"

PERSONAS = ("signed_out", "user", "staff")


# --- the pages --------------------------------------------------------------------------------

TOKEN = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>\w+)>(?P<rx>[^)]*)\)")


@dataclass(frozen=True)
class Target:
    route: str  # the resolver's pattern, e.g. "account/requests/<str:reference>/"
    parts: tuple  # ("lit", text) and ("arg", name, converter) in order
    model: type | None = None  # the model of an admin page
    group: str = "site"

    @property
    def args(self):
        return [(p[1], p[2]) for p in self.parts if p[0] == "arg"]


def _parts(route: str) -> tuple:
    parts, pos = [], 0
    for match in TOKEN.finditer(route):
        if match.start() > pos:
            parts.append(("lit", route[pos : match.start()]))
        if match.group("rname"):
            parts.append(("arg", match.group("rname"), "re:" + match.group("rx")))
        else:
            parts.append(("arg", match.group("name"), match.group("conv") or "str"))
        pos = match.end()
    parts.append(("lit", route[pos:]))
    # Regular-expression routes (the admin's app index and catch-all) carry anchors.
    return tuple(
        ("lit", p[1].replace("^", "").replace("$", "")) if p[0] == "lit" else p for p in parts
    )


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


ADMIN_MODEL_ROUTE = re.compile(r"^admin/(\w+)/(\w+)/")


def all_targets() -> list[Target]:
    targets = []
    for route in dict.fromkeys(_walk(get_resolver().url_patterns)):
        model, group = None, "site"
        if route.startswith("admin/"):
            group = "admin-site"
            match = ADMIN_MODEL_ROUTE.match(route)
            if match:
                try:
                    candidate = apps.get_model(match.group(1), match.group(2))
                except (LookupError, ValueError):
                    candidate = None
                if candidate is not None and candidate in admin.site._registry:
                    model, group = candidate, f"admin:{candidate._meta.app_label}"
        targets.append(Target(route, _parts(route), model, group))
    return targets


TARGETS = all_targets()
GROUPS = sorted({t.group for t in TARGETS})

# The admin's model pages all answer a visitor or a user who is not staff with the same
# redirect to the sign-in page before any of the admin's code reads the request: they are
# fuzzed for those personas through one representative model (the request queue), the rest
# only for staff.
REPRESENTATIVE_MODEL = "requests.datasubjectrequest"


def cases():
    for group in GROUPS:
        for persona in PERSONAS:
            if group.startswith("admin:") and persona != "staff" and group != "admin:requests":
                continue
            yield pytest.param(persona, group, id=f"{persona}-{group}")


def targets_for(persona, group) -> list[Target]:
    chosen = [t for t in TARGETS if t.group == group]
    if group.startswith("admin:") and persona != "staff":
        chosen = [t for t in chosen if t.model._meta.label_lower == REPRESENTATIVE_MODEL]
    return chosen


# --- a small world: at least one object behind every page -------------------------------------

ACK_TOKEN = "fuzz-callback-token"  # noqa: S105 - test value


@dataclass
class World:
    users: dict
    pks: dict  # model -> the pk of one of its objects
    actions: dict  # model -> names of its object actions
    values: dict  # route -> {argument: valid value}
    root: object = None  # the folder of its files


def _first_pk(model):
    return model._default_manager.order_by("pk").values_list("pk", flat=True).first()


def build_world() -> World:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from accounts.models import User
    from consent import campaigns
    from consent.models import PolicyVersion
    from lifecycle import deletion, exports
    from lifecycle import recipients as recipient_erasure
    from lifecycle.models import DataExport, RecipientErasure
    from requests import attachments, workflow

    from .factories import (
        CalendarOverrideFactory,
        CalendarYearFactory,
        RecipientFactory,
        UserFactory,
    )

    call_command("seed_demo", stdout=io.StringIO())
    alice = User.objects.get(email="alice@example.com")
    dpo = User.objects.get(email="dpo@example.com")

    # Objects the demo has none of: a deleted account (erasure record, account deletion, a
    # recipient's erasure notice with a known callback token), an export, a campaign, a
    # message with an attachment, calendar entries, sign-in records and schedules.
    RecipientFactory(
        name="Fuzz Recipient",
        data_categories=["profile"],
        erasure_channel="email",
        privacy_contact="privacy@recipient.example",
        active_from=timezone.localdate() - timedelta(days=400),
    )
    gone = UserFactory()
    gone.date_joined = timezone.now() - timedelta(days=300)
    gone.save(update_fields=["date_joined"])
    deletion.delete_now(gone, actor=dpo)
    RecipientErasure.objects.update(token_hash=recipient_erasure.token_hash(ACK_TOKEN))
    exports.build(exports.request_export(alice).pk)  # a ready download
    version = PolicyVersion.objects.filter(published_at__isnull=False).order_by("pk").first()
    if version is not None:
        campaigns.create_policy_campaign(version, dpo)
    request = alice.data_requests.order_by("pk").first()
    pdf = SimpleUploadedFile("letter.pdf", MINIMAL_PDF, content_type="application/pdf")
    workflow.post_message(
        request, alice, "Here is the letter.", files=attachments.validate_uploads([pdf])
    )
    CalendarOverrideFactory()
    CalendarYearFactory()
    AccessAttempt.objects.create(username="someone", ip_address="127.0.0.1", failures_since_start=1)
    AccessLog.objects.create(username="someone", ip_address="127.0.0.1")
    AccessFailureLog.objects.create(username="someone", ip_address="127.0.0.1")
    every = IntervalSchedule.objects.create(every=10, period="minutes")
    CrontabSchedule.objects.create(minute="0", hour="3")
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=31.23, longitude=121.47)
    PeriodicTask.objects.create(
        name="fuzz task", task="lifecycle.tasks.retention_sweep", interval=every
    )

    users = {"user": alice, "staff": dpo}
    pks = {model: _first_pk(model) for model in admin.site._registry}
    factory = RequestFactory()
    actions = {}
    for model, model_admin in admin.site._registry.items():
        if not hasattr(model_admin, "get_object_actions") or pks[model] is None:
            continue
        fake = factory.get("/")
        fake.user = dpo
        obj = model._default_manager.get(pk=pks[model])
        actions[model] = [a.name for a in model_admin.get_object_actions(fake, obj)]

    document = apps.get_model("verification", "VerificationDocument")
    doc = document.objects.filter(verification__user=alice).order_by("pk").first()
    attachment = apps.get_model("requests", "Attachment").objects.order_by("pk").first()
    notice = RecipientErasure.objects.order_by("pk").first()
    significant = (
        PolicyVersion.objects.filter(published_at__isnull=False, significant=True).first()
        or version
    )
    values = {
        "account/requests/<str:reference>/": {"reference": request.reference},
        "account/requests/<str:reference>/withdraw/": {"reference": request.reference},
        "account/requests/<str:reference>/files/<int:pk>/": {
            "reference": request.reference,
            "pk": attachment.pk if attachment else None,
        },
        "account/data/exports/<int:pk>/download/": {
            "pk": DataExport.objects.filter(user=alice).values_list("pk", flat=True).first()
        },
        "privacy/erasure-ack/<int:pk>/<str:token>/": {
            "pk": notice.pk if notice else None,
            "token": ACK_TOKEN,
        },
        "account/verification/documents/<int:pk>/": {"pk": doc.pk if doc else None},
        "privacy/notice/<int:version_id>/seen/": {
            "version_id": significant.pk if significant else None
        },
        "privacy/recipients/v<int:number>/": {"number": 1},
        "privacy/<slug:slug>/": {"slug": "privacy-policy"},
        "privacy/<slug:slug>/versions/": {"slug": "privacy-policy"},
        "privacy/<slug:slug>/v<int:number>/": {"slug": "privacy-policy", "number": 1},
        "privacy/<slug:slug>/diff/": {"slug": "privacy-policy"},
    }
    verification = apps.get_model("verification", "Verification")
    if doc is not None:
        values["admin/verification/verification/<int:pk>/documents/<int:doc_pk>/"] = {
            "pk": doc.verification_id,
            "doc_pk": doc.pk,
        }
    values["admin/r/<int:content_type_id>/<path:object_id>/"] = {
        "content_type_id": ContentType.objects.get_for_model(verification).pk,
        "object_id": pks.get(verification),
    }
    return World(users=users, pks=pks, actions=actions, values=values)


def valid_value(world: World, target: Target, name: str, converter: str):
    """A value that reaches the view (an object that exists), or None when there is none."""
    known = world.values.get(target.route, {})
    if name in known:
        return known[name]
    if target.model is not None:
        if name in ("object_id", "pk"):
            return world.pks.get(target.model)
        if name == "action":
            names = world.actions.get(target.model) or []
            return names[0] if names else None
    if name == "app_label":
        return "requests"
    if name == "url":
        return "requests/"
    return None


# --- reading a page's fields --------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str = "text"  # the input's type, "select" or "textarea"
    options: list = field(default_factory=list)  # values a browser could send


class FieldReader(HTMLParser):
    """The names (and offered values) of a page's form fields, by form method, and the query
    parameters of its links that stay on the page (filters, sorting, paging)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.post: dict[str, Field] = {}
        self.get: dict[str, Field] = {}
        self._method = None
        self._select = None

    def _fields(self):
        return self.post if self._method == "post" else self.get

    def _add(self, name, kind, value=None):
        if not name or name == "csrfmiddlewaretoken":
            return
        spec = self._fields().setdefault(name, Field(name, kind))
        if value not in (None, "") and value not in spec.options:
            spec.options.append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._method = (attrs.get("method") or "get").lower()
        elif tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "image", "button", "reset"):
                # Buttons matter ("send", "_save", "_continue"): send their name with its value.
                self._add(attrs.get("name"), "button", attrs.get("value") or "1")
            else:
                self._add(attrs.get("name"), kind, attrs.get("value"))
        elif tag == "button":
            self._add(attrs.get("name"), "button", attrs.get("value") or "1")
        elif tag == "textarea":
            self._add(attrs.get("name"), "textarea")
        elif tag == "select":
            self._select = attrs.get("name")
            self._add(self._select, "select")
        elif tag == "option" and self._select:
            self._add(self._select, "select", attrs.get("value"))
        elif tag == "a":
            href = attrs.get("href") or ""
            if href.startswith("?"):
                for name, value in parse_qsl(href[1:], keep_blank_values=True):
                    spec = self.get.setdefault(name, Field(name, "link"))
                    if value not in spec.options:
                        spec.options.append(value)

    def handle_endtag(self, tag):
        if tag == "form":
            self._method = None
        elif tag == "select":
            self._select = None


def read_fields(response) -> tuple[dict, dict]:
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return {}, {}
    if response.streaming:
        return {}, {}
    reader = FieldReader()
    reader.feed(response.content.decode(errors="replace"))
    return reader.get, reader.post


# Query parameters every page may be sent: the admin's list (search, order, page, errors,
# popups, related-field lookups, preserved filters) and the site's own (next, page, kind, code).
COMMON_QUERY = ["q", "o", "p", "e", "_to_field", "_popup", "_changelist_filters", "next", "page"]
COMMON_FORM = ["next"]


# --- generated values ---------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "1.5",
    "1e400",
    "NaN",
    "-inf",
    "true",
    "null",
    "[]",
    "{}",
    "99999999999999999999",
    "-9223372036854775809",
    "2147483648",
    "２０２４-０１-０１",
    "2024-02-30",
    "0000-00-00",
    "9999-12-31",
    "31/12/2024",
    "12:61",
    "+8613900000001",
    "13900000001",
    "a@b",
    "user@example.com",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "../../etc/passwd",
    "%",
    "%00",
    "\\",
    "\u202e",
    "\ufeff",
    "\u3000",
    "İ" * 200,
    "🙂",
    "\r\n",
    "\x00",
    "\x1b[0m",
    "\x7f",
    "_0x",
]
LONG = ["x" * 100_000, "中" * 20_000, "9" * 5_000, "a@" + "b" * 300 + ".com"]

generated_text = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=60),
    st.integers().map(str),
    st.floats().map(str),
    st.text(st.characters(categories=["Cc", "Cf", "Zs"]), min_size=1, max_size=5),
    st.sampled_from(LONG),
)

uploads = st.builds(
    SimpleUploadedFile,
    name=st.one_of(
        st.sampled_from(
            ["a.pdf", "a.png", "a.jpg", "a.exe", ".pdf", "a" * 300 + ".pdf", "a/../b.pdf"]
        ),
        st.text(min_size=1, max_size=40).filter(lambda s: s.strip("/\\.")),
    ),
    content=st.one_of(st.just(MINIMAL_PDF), st.binary(max_size=2_000)),
    content_type=st.sampled_from(["application/pdf", "image/png", "text/plain", ""]),
)


def value_strategy(spec: Field | None):
    choices = []
    if spec is not None and spec.options:
        choices.append(st.sampled_from(spec.options))
    if spec is not None and spec.kind == "file":
        choices.append(uploads)
    choices.append(generated_text)
    single = st.one_of(*choices)
    # Missing, one value, or the key repeated.
    return st.one_of(st.none(), single, st.lists(single, min_size=2, max_size=3))


def path_strategy(converter: str, valid):
    if converter == "int":
        generated = st.one_of(
            st.integers(min_value=0, max_value=2**70).map(str), st.sampled_from(["-1", "0", "1x"])
        )
    elif converter == "slug":
        generated = st.one_of(st.from_regex(r"\A[-a-zA-Z0-9_]{1,40}\Z"), generated_text)
    else:
        generated = generated_text
    generated = generated.filter(bool)
    if valid is None:
        return generated
    return st.one_of(st.just(str(valid)), generated)


def quote_arg(value: str, converter: str) -> str:
    return quote(value, safe="/" if converter == "path" else "")


def short(value, limit=120):
    if isinstance(value, SimpleUploadedFile):
        return f"<file {value.name!r} {value.size} bytes>"
    if isinstance(value, list):
        return [short(v, limit) for v in value]
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(value)} characters)"


# --- sending ------------------------------------------------------------------------------------


@dataclass
class Session:
    persona: str
    client: Client
    cookies: SimpleCookie
    counts: dict = field(default_factory=lambda: defaultdict(int))

    def send(self, method, url, data=None, urlencoded=False):
        """One request in a savepoint that is rolled back, from the persona's own cookies."""
        self.client.cookies = SimpleCookie(self.cookies.output(header="", sep=";"))
        for cache in caches.all():
            if isinstance(cache, LocMemCache):
                cache.clear()  # rate-limit counts of one example never decide the next
        with transaction.atomic():
            try:
                if method == "GET":
                    response = self.client.get(url)
                elif urlencoded:
                    response = self.client.post(
                        url,
                        urlencode(data or {}, doseq=True),
                        content_type="application/x-www-form-urlencoded",
                    )
                else:
                    response = self.client.post(url, data or {})
            finally:
                transaction.set_rollback(True)
        self.counts[response.status_code // 100] += 1
        return response


def failure(session, method, url, payload, response) -> str:
    detail = ""
    exc_info = getattr(response, "exc_info", None)
    if exc_info:
        # The project's own frames and the last two, where the error was raised.
        frames = traceback.extract_tb(exc_info[2])
        own = [
            f
            for f in frames[:-2]
            if ".venv" not in f.filename and "site-packages" not in f.filename
        ]
        lines = traceback.format_list(own + frames[-2:])
        lines += traceback.format_exception_only(exc_info[0], exc_info[1])
        detail = "".join(line[:500] for line in lines)
    return (
        f"{response.status_code} on {method} {short(url, 300)} as {session.persona}\n"
        f"payload: { {k: short(v) for k, v in (payload or {}).items()} }\n{detail}"
    )


def fuzz_target(session: Session, target: Target, world: World, pool: dict) -> str | None:
    """Run hypothesis on one page; the failure message, or None."""
    valid = {name: valid_value(world, target, name, conv) for name, conv in target.args}
    if any(v is None for v in valid.values()):
        base = None  # no object to show: only generated path values
    else:
        base = "/" + "".join(
            p[1] if p[0] == "lit" else quote_arg(str(valid[p[1]]), p[2]) for p in target.parts
        )
    get_fields, post_fields = {}, {}
    if base is not None:
        response = session.send("GET", base)
        if response.status_code >= 500:
            return failure(session, "GET", base, {}, response)
        get_fields, post_fields = read_fields(response)
        pool.update(post_fields)
    if not post_fields:
        post_fields = dict(pool)  # a POST-only page: the field names of the site's other pages
    query_fields = {**{n: Field(n) for n in COMMON_QUERY}, **get_fields}
    form_fields = {**{n: Field(n) for n in COMMON_FORM}, **post_fields}
    message = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        phases=[Phase.generate, Phase.shrink] if SHRINK else [Phase.generate],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )
    @given(st.data())
    def run(data):
        path = "/" + "".join(
            p[1]
            if p[0] == "lit"
            else quote_arg(data.draw(path_strategy(p[2], valid[p[1]]), label=p[1]), p[2])
            for p in target.parts
        )
        language = data.draw(st.sampled_from(["en", "zh-hans"]), label="language")
        session.cookies[settings.LANGUAGE_COOKIE_NAME] = language

        names = data.draw(
            st.lists(st.sampled_from(sorted(query_fields)), max_size=4, unique=True), label="query"
        )
        query = {}
        for name in names:
            value = data.draw(value_strategy(query_fields[name]), label=name)
            if value is not None:
                query[name] = list(value if isinstance(value, list) else [value])
        query = {k: [v for v in vs if isinstance(v, str)] for k, vs in query.items()}
        raw_tail = data.draw(st.sampled_from(["", "&%ff=%fe", "&a=%ZZ", "&&=&", "&%00"]))
        url = path + "?" + urlencode(query, doseq=True) + raw_tail
        response = session.send("GET", url)
        if response.status_code >= 500:
            message.append(failure(session, "GET", url, query, response))
        assert response.status_code < 500, message[-1]

        form = {}
        for name in sorted(form_fields):
            value = data.draw(value_strategy(form_fields[name]), label=name)
            if value is not None:
                form[name] = value
        has_files = any(
            isinstance(v, SimpleUploadedFile)
            or (isinstance(v, list) and any(isinstance(x, SimpleUploadedFile) for x in v))
            for v in form.values()
        )
        urlencoded = not has_files and data.draw(st.booleans(), label="urlencoded")
        response = session.send("POST", path, form, urlencoded=urlencoded)
        if response.status_code >= 500:
            message.append(failure(session, "POST", path, form, response))
        assert response.status_code < 500, message[-1]

    try:
        run()
    except AssertionError:
        return message[-1] if message else "assertion failed"
    return None


def open_session(client, persona, world) -> Session:
    client.raise_request_exception = False
    if persona != "signed_out":
        client.force_login(world.users[persona])  # staff: the second factor passed too
    return Session(persona, client, SimpleCookie(client.cookies.output(header="", sep=";")))


# --- the world, once per module ------------------------------------------------------------------


def _file_settings(storages, root) -> dict:
    return {
        "STORAGES": {
            **storages,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(root / "private")},
            },
        },
        "SENSITIVE_MEDIA_ROOT": str(root / "documents"),
        "EXPORT_ROOT": str(root / "exports"),
    }


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The objects every case reads, built once in a transaction that is rolled back when the
    module is done (each test and each request nest savepoints inside it)."""
    root = tmp_path_factory.mktemp("fuzz-world")
    overrides = _file_settings(
        {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        root,
    )
    with (
        django_db_blocker.unblock(),
        override_settings(
            **overrides,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LANGUAGE_CODE="en",
        ),
    ):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world()
            built.root = root
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(module_world, settings):
    """The module's world, with this test's settings pointing at the world's files."""
    for name, value in _file_settings(settings.STORAGES, module_world.root).items():
        setattr(settings, name, value)
    return module_world


@pytest.mark.parametrize(("persona", "group"), list(cases()))
def test_no_input_gives_a_server_error(client, world, persona, group):
    session = open_session(client, persona, world)
    pool: dict = {}
    failures = []
    started = time.monotonic()
    targets = targets_for(persona, group)
    for target in targets:
        problem = fuzz_target(session, target, world, pool)
        if problem:
            failures.append(f"[{target.route}]\n{problem}")
    elapsed = time.monotonic() - started
    counts = dict(sorted(session.counts.items()))
    print(
        f"\nfuzz {persona} {group}: {len(targets)} routes x {EXAMPLES} examples, "
        f"{sum(counts.values())} requests ({counts} by status class) in {elapsed:.1f}s"
    )
    assert not failures, "\n\n".join(failures)


def test_every_page_is_fuzzed_by_some_persona():
    """The fuzzing above is not vacuous: every route of the project is in some case."""
    covered = {
        t.route
        for persona, group in (c.values for c in cases())
        for t in targets_for(persona, group)
    }
    assert covered == {t.route for t in TARGETS}
    assert any(t.route == "account/requests/<str:reference>/" for t in TARGETS)
    assert any(t.route.startswith("admin/requests/datasubjectrequest/") for t in TARGETS)


def test_personas_reach_their_pages(world):
    """A user sees the account center and staff the admin: otherwise every fuzzed request would
    stop at a sign-in redirect and prove nothing."""
    user = open_session(Client(), "user", world)
    assert user.send("GET", "/account/").status_code == 200
    staff = open_session(Client(), "staff", world)
    assert staff.send("GET", "/admin/").status_code == 200
    assert staff.send("GET", "/admin/requests/datasubjectrequest/").status_code == 200
    hold = next(
        t for t in TARGETS if t.route == "admin/lifecycle/legalhold/<path:object_id>/change/"
    )
    assert valid_value(world, hold, "object_id", "path") is not None
