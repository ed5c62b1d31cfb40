"""What a request of each kind asks for and what completing it does (RGT-1..4, MIN-2).

The requests app owns the lifecycle (states, clocks, messages). Carrying a request out (an
export, corrections, withdrawals, erasure, account deletion) belongs to the layer above, which
registers one handler per kind here when it starts. The workflow and the admin ask this module;
they never import that layer.

A handler says:

- ``fields()``: the extra questions of the request form for its kinds (which fields to correct,
  which purposes, which categories), optional at field level; ``clean()`` checks the answers
  and returns the request's ``details``;
- ``describe(req)``: the details as (label, value) lines for the requester and staff;
- ``plan(req)``: what completing will do, shown on the confirmation page;
- ``execute(req, actor, data)``: the work, run inside the transaction that completes the
  request (so it happens entirely or not at all); returns the text added to the answer;
- ``actions(req)``: extra buttons on the admin's request page ("Complete with export").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Action:
    """An extra step on the admin's request page, with its confirmation form."""

    name: str
    title: object
    help: object
    form: type  # a Form class; instantiated with (data, request=req)
    run: Callable  # (req, actor, cleaned_data) -> None
    done: object
    states: tuple[str, ...]


@dataclass(frozen=True)
class Handler:
    kinds: tuple[str, ...]
    fields: Callable[[], dict] = dict
    clean: Callable | None = None  # (requester, cleaned_data, staff=bool) -> details
    describe: Callable | None = None  # (req) -> [(label, value)]
    plan: Callable | None = None  # (req) -> [str]
    execute: Callable | None = None  # (req, actor, data) -> str
    actions: Callable | None = None  # (req) -> [Action]
    #: The plain "Complete" is replaced by one of ``actions`` (e.g. corrections need decisions).
    replaces_complete: bool = False
    #: Extra submit buttons of the request form: {button name: (request, form) -> message}.
    buttons: Mapping[str, Callable] = field(default_factory=dict)


_handlers: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    for kind in handler.kinds:
        _handlers[kind] = handler
    return handler


def handler_for(kind) -> Handler | None:
    return _handlers.get(str(kind))


def form_fields(kind) -> dict:
    handler = handler_for(kind)
    return handler.fields() if handler else {}


def all_form_fields() -> dict:
    """Every extra question of every kind (the staff's intake form shows them all)."""
    fields = {}
    for handler in {id(h): h for h in _handlers.values()}.values():
        for name, form_field in handler.fields().items():
            fields.setdefault(name, form_field)
    return fields


def clean_details(kind, requester, cleaned_data, *, staff=False) -> dict:
    handler = handler_for(kind)
    if handler is None or handler.clean is None:
        return {}
    return handler.clean(requester, cleaned_data, staff=staff) or {}


def describe(req) -> list[tuple[str, str]]:
    handler = handler_for(req.kind)
    if handler is None or handler.describe is None:
        return []
    return handler.describe(req)


def plan(req) -> list[str]:
    handler = handler_for(req.kind)
    if handler is None or handler.plan is None:
        return []
    return handler.plan(req)


def execute(req, actor, data) -> str:
    handler = handler_for(req.kind)
    if handler is None or handler.execute is None:
        return ""
    return handler.execute(req, actor, data or {}) or ""


def actions(req) -> list[Action]:
    handler = handler_for(req.kind)
    if handler is None or handler.actions is None:
        return []
    return [a for a in handler.actions(req) if req.state in a.states]


def replaces_complete(req) -> bool:
    handler = handler_for(req.kind)
    return bool(handler and handler.replaces_complete)


def buttons(kind) -> Mapping[str, Callable]:
    handler = handler_for(kind)
    return handler.buttons if handler else {}
