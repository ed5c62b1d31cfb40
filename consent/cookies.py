"""The cookie banner's rules: categories, the visitor id, the banner state and linking (CON-4).

Three categories: strictly necessary cookies (session, CSRF, language, the two cookies below)
are always on and are not a decision in the ledger; functional and analytics cookies are
optional purposes (``cookies-functional``, ``cookies-analytics``), each choice one ledger event.

Cookies set by the banner, neither holding personal data:
- ``pp_visitor``: a random id (uuid4 hex), signed, the ledger subject of an anonymous visitor;
- ``pp_cookie_choice``: ``v1`` once a choice was made, so the banner does not show again.
The state itself always comes from the ledger: a choice cookie without ledger state (e.g. a
cleared database) shows the banner again.

A signed-in child under 14 whose guardian's consent is not verified (MIN-1) gets no optional
cookies: a choice is recorded as a refusal of both categories (the button pressed is kept in the
evidence), and an earlier grant of theirs counts as off.
"""

import logging
import re
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _

from lib import hooks

from . import ledger, policies
from .models import ConsentEvent, ConsentState, LegalBasis, Purpose

log = logging.getLogger(__name__)

VISITOR_COOKIE = "pp_visitor"
VISITOR_SALT = "consent.cookies.visitor"
CHOICE_COOKIE = "pp_cookie_choice"
CHOICE_VERSION = "v1"  # bump to ask every visitor again (e.g. a new category)
COOKIE_MAX_AGE = 365 * 24 * 3600
COOKIE_POLICY_SLUG = "cookie-policy"
_VISITOR_RE = re.compile(r"^[0-9a-f]{32}$")

FUNCTIONAL = "functional"
ANALYTICS = "analytics"
CATEGORIES = (FUNCTIONAL, ANALYTICS)  # the optional ones, in display order
PURPOSE_CODES = {FUNCTIONAL: "cookies-functional", ANALYTICS: "cookies-analytics"}

# The wording recorded as evidence is the very text the visitor saw.
BANNER_TEXT = _(
    "We use strictly necessary cookies to run this site. With your consent we also use "
    "functional cookies to remember your preferences and analytics cookies to count visits. "
    "You can change your choice at any time."
)
SETTINGS_TEXT = _(
    "Choose which optional cookies we may use. Strictly necessary cookies are always on: "
    "without them you cannot sign in or send forms."
)

# Labels of the settings page and dialog, translated like every other string of the interface.
COOKIE_PURPOSES_LABELS = {FUNCTIONAL: _("Functional cookies"), ANALYTICS: _("Analytics cookies")}
COOKIE_PURPOSES_HELP = {
    FUNCTIONAL: _("Remember your preferences on this site, such as the layout you chose."),
    ANALYTICS: _("Count visits and see which pages are used, to improve the site."),
}

# The rows created when missing: both languages, as the DPO would enter them.
COOKIE_PURPOSES = {
    FUNCTIONAL: {
        "name_en": "Functional cookies",
        "name_zh": "功能性 Cookie",
        "description_en": "Remember your preferences on this site, such as the layout you chose.",
        "description_zh": "记住您在本站的偏好设置，例如您选择的页面布局。",
    },
    ANALYTICS: {
        "name_en": "Analytics cookies",
        "name_zh": "分析类 Cookie",
        "description_en": "Count visits and see which pages are used, to improve the site.",
        "description_zh": "统计访问量并了解哪些页面被使用，以改进本站。",
    },
}


def ensure_cookie_purposes() -> dict[str, Purpose]:
    """The two optional cookie purposes, created if missing (both languages). Existing rows are
    left as the DPO edited them."""
    purposes = {}
    for category, texts in COOKIE_PURPOSES.items():
        purposes[category], _created = Purpose.objects.get_or_create(
            code=PURPOSE_CODES[category],
            defaults={
                **texts,
                "legal_basis": LegalBasis.CONSENT,
                "essential": False,
                "cookie_category": category,
            },
        )
    return purposes


# --- Cookies of the browser ---------------------------------------------------------------


def read_visitor(request) -> str:
    """The visitor id from the signed cookie, or "" if absent or tampered with."""
    if request is None or VISITOR_COOKIE not in request.COOKIES:
        return ""
    value = request.get_signed_cookie(VISITOR_COOKIE, default="", salt=VISITOR_SALT)
    return value if _VISITOR_RE.match(value or "") else ""


def new_visitor_id() -> str:
    return uuid.uuid4().hex


def has_choice_cookie(request) -> bool:
    return request.COOKIES.get(CHOICE_COOKIE) == CHOICE_VERSION


def set_choice_cookies(response, visitor: str = ""):
    common = {
        "max_age": COOKIE_MAX_AGE,
        "samesite": "Lax",
        "secure": settings.SESSION_COOKIE_SECURE,
        "httponly": True,
    }
    if visitor:
        response.set_signed_cookie(VISITOR_COOKIE, visitor, salt=VISITOR_SALT, **common)
    response.set_cookie(CHOICE_COOKIE, CHOICE_VERSION, **common)


# --- State from the ledger ----------------------------------------------------------------


def cookie_states(user=None, visitor: str = "") -> dict[str, bool]:
    """{category: granted} for the cookie categories the subject has decided on (one query)."""
    rows = ConsentState.objects.filter(
        subject=ledger.subject_key(user, visitor),
        purpose__code__in=PURPOSE_CODES.values(),
    ).values_list("purpose__code", "granted")
    by_code = {code: category for category, code in PURPOSE_CODES.items()}
    return {by_code[code]: granted for code, granted in rows}


@dataclass
class CookieConsent:
    """What a page needs to know: show the banner? load analytics? (the context processor)."""

    decided: dict = field(default_factory=dict)  # {category: granted}
    has_subject: bool = False
    choice_cookie: bool = False
    signed_in: bool = False

    @property
    def chosen(self) -> bool:
        """A choice exists and the ledger knows it for every category."""
        complete = all(category in self.decided for category in CATEGORIES)
        return complete and (self.choice_cookie or self.signed_in)

    @property
    def show_banner(self) -> bool:
        return not self.chosen

    @property
    def functional(self) -> bool:
        return self.decided.get(FUNCTIONAL, False)

    @property
    def analytics(self) -> bool:
        return self.decided.get(ANALYTICS, False)

    @property
    def text(self):
        return BANNER_TEXT

    @property
    def settings_text(self):
        return SETTINGS_TEXT

    @property
    def categories(self) -> list[dict]:
        """The optional categories with their label, help and current state (no query)."""
        return category_rows({c for c in CATEGORIES if self.decided.get(c)})

    @property
    def policy_url(self) -> str:
        return cookie_policy_url()


def category_rows(selected) -> list[dict]:
    return [
        {
            "code": category,
            "name": COOKIE_PURPOSES_LABELS[category],
            "description": COOKIE_PURPOSES_HELP[category],
            "checked": category in selected,
        }
        for category in CATEGORIES
    ]


def consent_for_request(request) -> CookieConsent:
    """The cookie state of this request's subject: one query at most, none without a subject.
    Cached on the request, so every template of a request shares it."""
    cached = getattr(request, "_pp_cookie_consent", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    visitor = "" if signed_in else read_visitor(request)
    state = CookieConsent(signed_in=signed_in, choice_cookie=has_choice_cookie(request))
    if signed_in or visitor:
        state.has_subject = True
        state.decided = cookie_states(user=user if signed_in else None, visitor=visitor)
        if signed_in and any(state.decided.values()) and hooks.optional_consent_restricted(user):
            # MIN-1: an old grant of a child without a verified guardian is not used.
            state.decided = dict.fromkeys(state.decided, False)
    request._pp_cookie_consent = state
    return state


def cookie_policy_url() -> str:
    """The cookie policy's public page if the site has that route, else the privacy page."""
    for candidate in ("/privacy/cookie-policy/", "/privacy/"):
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return candidate
    return "/privacy/"


# --- Recording ----------------------------------------------------------------------------


def record_choices(choices: dict[str, bool], *, request, user=None, visitor="", wording, button=""):
    """One ledger event per optional category whose decision changes (grant or withdraw), all
    or nothing; the events written (none when nothing changed).

    A category whose current decision is the same, under the cookie policy version in force,
    is not recorded again: sending the same choice twice is not a new decision, and scripted
    repeats must not grow the append-only ledger. A new policy version makes the same choice a
    new decision (consent given to other terms).
    """
    if set(choices) != set(CATEGORIES):
        raise ValueError("A cookie choice names every optional category.")
    refused = user is not None and any(choices.values()) and restricted(user)
    if refused:
        # MIN-1: the child's choice is recorded as what it can be, a refusal of both.
        choices = dict.fromkeys(choices, False)
    with transaction.atomic():
        ledger.lock()  # compare and append under one lock: parallel repeats write once
        purposes = ensure_cookie_purposes()
        version = policies.current_version_of(COOKIE_POLICY_SLUG)
        current = {
            purpose_id: (granted, version_id)
            for purpose_id, granted, version_id in ConsentState.objects.filter(
                subject=ledger.subject_key(user, visitor),
                purpose__in=list(purposes.values()),
            ).values_list("purpose_id", "granted", "event__policy_version_id")
        }
        version_id = version.pk if version is not None else None
        changed = [
            category
            for category in CATEGORIES
            if current.get(purposes[category].pk) != (choices[category], version_id)
        ]
        if not changed:
            return []
        proof = policies.evidence_from_request(request, wording)
        if button:
            proof = {**proof, "choice": button}
        if refused:
            proof = {**proof, "refused": "child without a verified guardian's consent"}

        def action(category):
            if choices[category]:
                return ConsentEvent.Action.GRANT
            was_given = current.get(purposes[category].pk, (False, None))[0]
            return ConsentEvent.Action.WITHDRAW if was_given else ConsentEvent.Action.REFUSE

        return [
            ledger.record(
                action=action(category),
                channel=ConsentEvent.Channel.COOKIE_BANNER,
                user=user,
                visitor=visitor,
                purpose=purposes[category],
                policy_version=version,
                evidence=proof,
            )
            for category in changed
        ]


def restricted(user) -> bool:
    """Whether a signed-in ``user`` may have no optional cookies (MIN-1)."""
    return hooks.optional_consent_restricted(user)


def link_visitor_on_login(sender, request, user, **kwargs):
    """On sign-in, copy the visitor's current cookie decisions onto the user as new events,
    where the user's state differs. The visitor's own events stay as they are (append-only)."""
    visitor = read_visitor(request)
    if not visitor or user is None or user.pk is None:
        return
    try:
        with transaction.atomic():
            rows = ConsentState.objects.filter(
                subject=ledger.subject_key(visitor=visitor),
                purpose__code__in=PURPOSE_CODES.values(),
            ).select_related("purpose", "event__policy_version")
            mine = cookie_states(user=user)
            by_code = {code: category for category, code in PURPOSE_CODES.items()}
            child = None
            for row in rows:
                if mine.get(by_code[row.purpose.code]) == row.granted:
                    continue
                if row.granted:
                    if child is None:
                        child = restricted(user)
                    if child:
                        continue  # MIN-1: a child's grant is never copied onto the account
                if row.granted:
                    action = ConsentEvent.Action.GRANT
                elif mine.get(by_code[row.purpose.code]):
                    action = ConsentEvent.Action.WITHDRAW
                else:
                    action = ConsentEvent.Action.REFUSE  # never given: not a withdrawal
                ledger.record(
                    action=action,
                    channel=ConsentEvent.Channel.COOKIE_BANNER,
                    user=user,
                    purpose=row.purpose,
                    policy_version=row.event.policy_version,
                    evidence={"linked_from_visitor": visitor},
                )
    except DatabaseError:
        # Signing in must not fail because of this; the banner simply asks the user again.
        log.exception("Could not link the visitor's cookie choices to user %s", user.pk)
