from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Partner, Referral


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
