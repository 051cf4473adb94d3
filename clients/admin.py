from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Client


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    list_display = ["id", "user", "status", "country", "language", "created_at"]
    list_filter = ["status", "country"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "phone"]
    list_select_related = ["user"]
    readonly_fields = ["user", "status", "created_at"]

    def has_delete_permission(self, request, obj=None):
        return False
