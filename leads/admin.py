from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Lead,
    LeadImport,
    NurtureEnrollment,
    NurtureSequence,
    NurtureStep,
    RoutingRule,
    ScoringRule,
)


@admin.register(ScoringRule)
class ScoringRuleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "field", "operator", "value", "points", "is_active", "order"]
    list_editable = ["points", "is_active", "order"]
    list_filter = ["field", "is_active"]
    search_fields = ["name"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(SimpleHistoryAdmin):
    list_display = ["order", "name", "action", "desk", "sequence", "distribution", "is_active"]
    list_display_links = ["name"]
    list_editable = ["order", "is_active"]
    list_filter = ["action", "is_active"]


class NurtureStepInline(admin.TabularInline):
    model = NurtureStep
    extra = 1


@admin.register(NurtureSequence)
class NurtureSequenceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "is_active"]
    inlines = [NurtureStepInline]


@admin.register(Lead)
class LeadAdmin(SimpleHistoryAdmin):
    """Read-only here: leads are worked in the back-office, where every change is audited."""

    list_display = [
        "id",
        "__str__",
        "email",
        "country",
        "score",
        "status",
        "desk",
        "assigned_to",
        "created_at",
    ]
    list_filter = ["status", "channel", "desk"]
    search_fields = ["email", "phone", "first_name", "last_name"]
    list_select_related = ["desk", "assigned_to"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NurtureEnrollment)
class NurtureEnrollmentAdmin(admin.ModelAdmin):
    list_display = ["lead", "sequence", "state", "next_position", "next_send_at"]
    list_filter = ["state", "sequence"]
    readonly_fields = [f.name for f in NurtureEnrollment._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "filename",
        "uploaded_by",
        "state",
        "total_rows",
        "created_count",
        "created_at",
    ]
    readonly_fields = [f.name for f in LeadImport._meta.fields]

    def has_add_permission(self, request):
        return False
