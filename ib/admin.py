from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Partner


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "referral_code", "parent", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "company_name", "referral_code"]
    list_select_related = ["user", "parent__user"]
    raw_id_fields = ["user", "parent"]
