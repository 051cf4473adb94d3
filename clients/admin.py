from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from brokerage.admin import ReasonActionForm, action_reason

from .models import (
    AccountOpening,
    AccountType,
    Client,
    Instrument,
    OutreachTemplate,
    RetentionPolicy,
    SyncRejection,
    TradingServer,
)
from .platforms.secrets import password_encrypt
from .services import client_kyc_level_set, client_restrict


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    """Clients are registered at sign-up. Their standing (KYC level, restriction, AML case,
    flags) is written only by the audited services in `clients.services`, here through the
    actions; compliance alone opens and closes AML cases."""

    list_display = ["id", "user", "status", "country", "language", "kyc_level", "restricted"]
    list_display += ["created_at"]
    list_filter = ["status", "kyc_level", "restricted", "aml_case_open", "country"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "phone"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "status",
        "kyc_level",
        "kyc_verified_at",
        "id_document_expires_on",
        "restricted",
        "restriction_reason",
        "aml_case_open",
        "risk_flags",
        "first_deposit_at",
        "last_trade_at",
        "created_at",
    ]
    action_form = ReasonActionForm
    actions = ["restrict", "verify_again"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Restrict (give the reason)", permissions=["change"])
    def restrict(self, request, queryset):
        if reason := action_reason(self, request):
            for client in queryset:
                client_restrict(client=client, actor=request.user, reason=reason)
            self.message_user(request, f"{len(queryset)} restricted.")

    @admin.action(
        description="Require identity verification again: KYC level 0 (give the reason)",
        permissions=["change"],
    )
    def verify_again(self, request, queryset):
        if reason := action_reason(self, request):
            for client in queryset.filter(kyc_level__gt=0):
                client_kyc_level_set(client=client, level=0, actor=request.user, reason=reason)
            self.message_user(request, "Their KYC level is 0; they verify again in the portal.")


class TradingServerForm(forms.ModelForm):
    url = forms.URLField(
        assume_scheme="https", help_text="Web API base URL, e.g. https://mt5.example.com:443"
    )
    download_url = forms.URLField(
        assume_scheme="https", required=False, help_text=TradingServer.download_url.field.help_text
    )
    web_terminal_url = forms.URLField(
        assume_scheme="https",
        required=False,
        help_text=TradingServer.web_terminal_url.field.help_text,
    )
    manager_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Stored encrypted. Leave empty to keep the current password.",
    )

    class Meta:
        model = TradingServer
        fields = [
            "name",
            "platform",
            "url",
            "manager_login",
            "manager_password",
            "timezone",
            "symbol_suffixes",
            "is_active",
            "download_url",
            "web_terminal_url",
            "batch_size",
            "max_requests_per_second",
            "backfill_hours",
            "overlap_seconds",
        ]

    def clean_manager_password(self):
        value = self.cleaned_data.get("manager_password", "")
        if not value:
            if self.instance.pk:
                return self.instance.manager_password
            raise forms.ValidationError("The manager password is required.")
        return password_encrypt(value)

    def clean_timezone(self):
        value = self.cleaned_data["timezone"]
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"{value!r} is not an IANA time zone.") from None
        return value


@admin.register(TradingServer)
class TradingServerAdmin(SimpleHistoryAdmin):
    form = TradingServerForm
    list_display = [
        "name",
        "platform",
        "url",
        "is_active",
        "deals_synced_through",
        "accounts_refreshed_at",
        "last_error",
    ]
    readonly_fields = [
        "deals_synced_through",
        "positions_synced_at",
        "accounts_refreshed_at",
        "last_error",
        "last_error_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountType)
class AccountTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "server", "group", "currency", "default_leverage", "is_active", "order"]
    list_filter = ["server", "currency", "is_active"]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "description", "asset_class", "aliases"]
    list_filter = ["asset_class"]
    search_fields = ["symbol", "description"]


@admin.register(SyncRejection)
class SyncRejectionAdmin(admin.ModelAdmin):
    list_display = ["server", "kind", "ticket", "login", "reason", "last_seen_at", "resolved_at"]
    list_filter = ["server", "kind", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["reason", "ticket", "login"]
    readonly_fields = [f.name for f in SyncRejection._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Read again with today's instruments and accounts")
    def retry(self, request, queryset):
        from .sync import rejections_retry

        taken, still = rejections_retry(rejections=list(queryset))
        self.message_user(request, f"{taken} taken; {still} still refused (see their reasons).")


@admin.register(AccountOpening)
class AccountOpeningAdmin(admin.ModelAdmin):
    """Requests to open trading accounts; those whose answer was lost are resolved by the
    sweeper (linked when the platform has the account, failed when it has none)."""

    list_display = ["reference", "client", "account_type", "status", "account", "lookups"]
    list_display += ["requested_at", "resolved_at"]
    list_filter = ["status", "account_type__server"]
    search_fields = ["reference", "client__user__email", "account__login"]
    list_select_related = ["client__user", "account_type", "account"]
    readonly_fields = [f.name for f in AccountOpening._meta.fields]
    actions = ["look_again"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Look for their accounts again (whole group) and link those found",
        permissions=["change"],
    )
    def look_again(self, request, queryset):
        from .trading.services import account_openings_look_again

        counts = account_openings_look_again(
            openings=list(queryset.select_related("account_type__server", "client__user")),
            actor=request.user,
        )
        self.message_user(
            request,
            f"{counts['opened']} linked; {counts['not_found']} not on the trading server; "
            f"{counts['error']} could not be looked up (see the log).",
        )


@admin.register(OutreachTemplate)
class OutreachTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["name", "channel", "signal", "language", "is_active"]
    list_filter = ["channel", "signal", "language", "is_active"]
    search_fields = ["name", "subject", "body"]

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead: logged outreach keeps pointing at it


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(SimpleHistoryAdmin):
    """Desk managers set their desks' thresholds on /backoffice/retention/settings/ (audited);
    here ops see them all."""

    list_display = ["__str__", "desk", "inactivity_days", "balance_drop_percent", "no_login_days"]
    list_select_related = ["desk"]

    def has_delete_permission(self, request, obj=None):
        return False
