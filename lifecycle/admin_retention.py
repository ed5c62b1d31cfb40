"""Retention rules and legal holds in the admin (RET-1, RET-2): the DPO edits each category's
rule, sees what the next run would erase, confirms a run larger than its cap, and places,
changes and ends legal holds, seeing what each one keeps from erasure. Every change is in the
audit log."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy

from lib.admin import ObjectAction, ObjectActionsMixin, person_filter
from lib.registry import registry

from . import holds, retention
from .models import LegalHold, RetentionRule


def _category_choices():
    return [(c.code, c.label) for c in registry.subject_categories()]


def _category_label(code):
    category = registry.categories.get(code)
    return str(category.label) if category else code


# --- Retention rules ------------------------------------------------------------------------------

#: The categories known to have their rule. The admin's app list asks on every admin page
#: whether a rule may be added (issue 14): once every declared category has its rule the
#: answer is no without a query, until a rule is deleted (rules are never deleted from the
#: admin; a deletion elsewhere clears this). A missing rule is looked up each time, so a rule
#: added by another process is seen at once.
_categories_with_rules: frozenset = frozenset()


def rules_missing() -> bool:
    """Whether a declared data category has no retention rule yet."""
    global _categories_with_rules
    declared = {c.code for c in registry.subject_categories()}
    if declared <= _categories_with_rules:
        return False
    missing = retention.missing_rules()
    if not missing:
        _categories_with_rules = frozenset(declared)
    return bool(missing)


@receiver(post_delete, sender=RetentionRule, dispatch_uid="retention_rules_known_forget")
def _forget_rules(**kwargs):
    global _categories_with_rules
    _categories_with_rules = frozenset()


class RetentionRuleForm(forms.ModelForm):
    category = forms.ChoiceField(label=_("data category"))

    class Meta:
        model = RetentionRule
        fields = ["category", "period_days", "clock", "action", "legal_basis", "active", "cap"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices()
        if self.instance.pk:
            self.fields["category"].disabled = True


def _confirm(request, rule, data):
    retention.confirm(rule, request.user)
    return _("Confirmed: the next retention sweep (within two days) erases these rows.")


def _rule_summary(request, rule):
    return [
        (_("data category"), _category_label(rule.category)),
        (_("kept for (days)"), rule.period_days),
        (_("counted from"), rule.get_clock_display()),
        (_("then"), rule.get_action_display()),
        (_("rows waiting"), rule.waiting_count),
    ]


@admin.register(RetentionRule)
class RetentionRuleAdmin(ObjectActionsMixin, admin.ModelAdmin):
    object_actions = [
        ObjectAction(
            name="confirm",
            title=_("Confirm the large run"),
            help=_(
                "The last run found more rows to erase than this rule's cap and erased nothing "
                "of its category. Check the rule (period, clock, action): confirm only if so "
                "much really has expired. The next sweep then erases them, in batches."
            ),
            run=_confirm,
            allowed=lambda rule: rule.waiting_count is not None,
            refused=_("This rule is not waiting for a confirmation."),
            permission="lifecycle.confirm_retentionrule",
            summary=_rule_summary,
            url_name="lifecycle_retentionrule_confirm",
        )
    ]
    form = RetentionRuleForm
    list_display = (
        "category_display",
        "period_days",
        "clock",
        "action",
        "active",
        "cap",
        "waiting_display",
        "updated_at",
    )
    list_filter = ("active", "action", "clock")
    ordering = ("category",)
    readonly_fields = ("preview", "waiting_display", "confirmed_until", "confirmed_by")
    change_form_template = "admin/lifecycle/retentionrule/change_form.html"

    def get_fieldsets(self, request, obj=None):
        fields = ["category", "period_days", "clock", "action", "legal_basis", "active", "cap"]
        if obj is None:
            return ((None, {"fields": fields}),)
        return (
            (None, {"fields": fields}),
            (
                _("The next run"),
                {"fields": ("preview", "waiting_display", "confirmed_until", "confirmed_by")},
            ),
        )

    def has_add_permission(self, request):
        # Every category has its rule from the start; one is added only for a new category.
        return super().has_add_permission(request) and rules_missing()

    def has_delete_permission(self, request, obj=None):
        return False  # a category without a rule is a start-up error

    @admin.display(description=_("data category"), ordering="category")
    def category_display(self, obj):
        return _category_label(obj.category)

    @admin.display(description=_("waiting for a DPO"))
    def waiting_display(self, obj):
        if obj.waiting_count is None:
            return "—"
        return format_html(
            '<span class="dsr-due dsr-due-overdue">{}</span>',
            ngettext(
                "%(count)s row, more than the cap; since %(date)s",
                "%(count)s rows, more than the cap; since %(date)s",
                obj.waiting_count,
            )
            % {
                "count": obj.waiting_count,
                "date": timezone.localtime(obj.waiting_since).strftime("%Y-%m-%d %H:%M"),
            },
        )

    @admin.display(description=_("what a run would erase now"))
    def preview(self, obj):
        # The rule as stored: a form being corrected may hold values that were refused.
        saved = RetentionRule.objects.get(pk=obj.pk)
        run = retention.run_rule(saved, holds.Holds.now(), timezone.now(), dry_run=True)
        if run.held:
            return _("Nothing: a legal hold covers the whole category.")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{}: {} ({})</li>", ((p.model, p.candidates, p.mode) for p in run.parts)
            ),
        )


# --- Legal holds ----------------------------------------------------------------------------------


class LegalHoldForm(forms.ModelForm):
    category = forms.ChoiceField(label=_("data category"), required=False)

    class Meta:
        model = LegalHold
        fields = ["scope", "user", "request", "category", "reason", "starts_at", "ends_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "category" in self.fields:  # read-only once the hold exists
            self.fields["category"].choices = [("", "---------"), *_category_choices()]

    def clean(self):
        cleaned = super().clean()
        scope = cleaned.get("scope", self.instance.scope)
        if self.instance.pk:  # the target is fixed once the hold exists
            scope = None
        targets = {
            LegalHold.Scope.USER: ("user", _("Choose the person.")),
            LegalHold.Scope.REQUEST: ("request", _("Choose the request.")),
            LegalHold.Scope.CATEGORY: ("category", _("Choose the data category.")),
        }
        if scope in targets:
            needed, message = targets[scope]
            if not cleaned.get(needed):
                self.add_error(needed, message)
            for other, _message in targets.values():
                if other != needed and cleaned.get(other):
                    self.add_error(
                        other, _("Leave this empty: the hold's scope is another kind of data.")
                    )
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The hold must end after it starts."))
        if not (cleaned.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for the hold (e.g. the case or order)."))
        return cleaned


class CurrentFilter(admin.SimpleListFilter):
    title = pgettext_lazy("legal hold", "in force")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", _("In force")), ("no", _("Ended or expired"))]

    def queryset(self, request, queryset):
        current = holds.current_holds().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=current)
        if self.value() == "no":
            return queryset.exclude(pk__in=current)
        return queryset


def _end_hold(request, hold, data):
    hold.ended_at = timezone.now()
    hold.save(update_fields=["ended_at"])  # through the ORM: audited
    return _("The hold has ended.")


def _hold_target(hold):
    if hold.scope == LegalHold.Scope.USER:
        return str(hold.user)
    if hold.scope == LegalHold.Scope.REQUEST:
        return hold.request_reference or str(hold.request)
    return _category_label(hold.category)


def _in_force(hold) -> bool:
    return hold.ended_at is None and hold.ends_at > timezone.now()


@admin.register(LegalHold)
class LegalHoldAdmin(ObjectActionsMixin, admin.ModelAdmin):
    object_actions = [
        ObjectAction(
            name="end",
            title=_("End the hold"),
            help=_(
                "The data it kept becomes subject to its retention rules again: the next sweep "
                "may erase what has expired meanwhile."
            ),
            run=_end_hold,
            allowed=_in_force,
            refused=_("This hold is no longer in force."),
            summary=lambda request, hold: [
                (_("applies to"), _hold_target(hold)),
                (_("reason"), hold.reason),
                (_("until"), timezone.localtime(hold.ends_at)),
            ],
            url_name="lifecycle_legalhold_end",
        )
    ]
    form = LegalHoldForm
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("user__id__exact",)
    list_display = ("__str__", "scope", "target", "starts_at", "ends_at", "state", "created_by")
    list_filter = (
        CurrentFilter,
        "scope",
        # The person page: holds on the person and on their requests.
        person_filter(lambda holds, pk: holds.filter(Q(user_id=pk) | Q(request__requester_id=pk))),
    )
    list_select_related = ("user", "request", "created_by")
    search_fields = ("=request__reference", "=user__id", "category")
    raw_id_fields = ("user", "request")
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    change_form_template = "admin/lifecycle/legalhold/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fixed = ("scope", "user", "request", "category", "created_by", "created_at", "ended_at")
        return (*fixed, "blocks")

    def get_fields(self, request, obj=None):
        fields = ["scope", "user", "request", "category", "reason", "starts_at", "ends_at"]
        if obj is not None:
            fields += ["created_by", "created_at", "ended_at", "blocks"]
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # holds are ended, never deleted: they are evidence

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("applies to"))
    def target(self, obj):
        return _hold_target(obj)

    @admin.display(description=_("state"))
    def state(self, obj):
        now = timezone.now()
        if obj.ended_at:
            return _("ended early")
        if obj.ends_at <= now:
            return _("expired")
        if obj.starts_at > now:
            return _("not yet in force")
        return pgettext("legal hold", "in force")

    @admin.display(description=_("what it keeps from erasure"))
    def blocks(self, obj):
        rows = holds.blocked_by(obj)
        if not rows:
            return _("Nothing at the moment.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", ((m, n) for m, n in rows))
        )
