from django.contrib import admin

from .models import Alert, AlertEvidence, Scenario, ScenarioVersion


class ReadOnly(admin.ModelAdmin):
    """Scenarios change by versions in the back office's scenario editor and alerts by
    officers and cases, all audited; the admin only shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionInline(admin.TabularInline):
    model = ScenarioVersion
    fields = ["number", "status", "alert_score", "hold_score", "params", "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Scenario)
class ScenarioAdmin(ReadOnly):
    list_display = ["name", "code"]
    inlines = [VersionInline]


class EvidenceInline(admin.TabularInline):
    model = AlertEvidence
    fields = ["kind", "object_id", "occurred_at", "amount_usd", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = ["pk", "client", "scenario", "score", "action", "status", "last_seen_at"]
    list_filter = ["scenario", "status", "action", "source"]
    list_select_related = ["client__user", "scenario"]
    raw_id_fields = ["client"]
    inlines = [EvidenceInline]
