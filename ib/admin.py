from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Attribution, Partner, PendingReferral, Referral


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "referral_code", "parent", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "company_name", "referral_code"]
    list_select_related = ["user", "parent__user"]
    raw_id_fields = ["user", "parent"]


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["client", "partner", "code", "attributed_at"]
    search_fields = ["code", "client__user__email", "partner__user__email"]
    list_select_related = ["client__user", "partner__user"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Attribution)
class AttributionAdmin(SimpleHistoryAdmin):
    """Read-only: credits are made by referral codes and links, or by an IB manager through
    `ib.services.lead_attribution_set`, each audited."""

    list_display = ["lead", "partner", "source", "code", "made_by_label", "made_at"]
    list_filter = ["source"]
    search_fields = ["code", "lead__email", "partner__user__email", "made_by_label"]
    list_select_related = ["lead", "partner__user"]
    raw_id_fields = ["lead", "partner", "made_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PendingReferral)
class PendingReferralAdmin(admin.ModelAdmin):
    list_display = ["user", "code", "created_at"]
    search_fields = ["user__email", "code"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
