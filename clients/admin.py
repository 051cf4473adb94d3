from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from brokerage.admin import ReasonActionForm, action_reason
from brokerage.services import audit_record

from . import audit_events
from .models import (
    AccountOpening,
    AccountType,
    AccountTypeMarkup,
    Client,
    Instrument,
    OutreachTemplate,
    RetentionPolicy,
    SharedNetwork,
    SyncRejection,
    TradingServer,
)
from .platforms.secrets import password_encrypt
from .services import client_kyc_level_set, client_residence_set, client_restrict


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    """Clients are registered at sign-up. Their standing (KYC level, restriction, AML case,
    flags) is written only by the audited services in `clients.services`, here through the
    actions; compliance alone opens and closes AML cases."""

    list_display = ["id", "user", "status", "country", "language", "kyc_level", "restricted"]
    list_display += ["created_at"]
    list_filter = ["holder", "status", "kyc_level", "restricted", "aml_case_open", "country"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "phone"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "holder",
        "legal_name",
        "status",
        "kyc_level",
        "kyc_verified_at",
        "id_document_expires_on",
        "restricted",
        "restriction_reason",
        "aml_case_open",
        "risk_flags",
        "nationality",
        "category",
        "risk_rating",
        "risk_score",
        "risk_rated_at",
        "enhanced_due_diligence",
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

    def save_model(self, request, obj, form, change):
        """A new country of residence goes through its service (audited; the leverage limits
        and country rules that follow it reach the client's accounts)."""
        country = obj.country
        if change and "country" in form.changed_data:
            obj.country = Client.objects.values_list("country", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)
        if change and "country" in form.changed_data:
            client_residence_set(
                client=obj, country=country, actor=request.user, reason="changed in admin"
            )
            obj.country = country

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
            "deals_review_days",
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


class AuditedConfigAdmin(SimpleHistoryAdmin):
    """Configuration that prices clients' trades (instruments, account types and their
    markups): every save keeps the rows' history and writes an audit event naming the fields
    and the inline rows that changed."""

    audit_created = audit_changed = ""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        evidence = {"changed": sorted(form.changed_data)}
        for formset in formsets:
            rows = {
                "added": [str(o) for o in formset.new_objects],
                "changed": [f"{o}: {', '.join(fields)}" for o, fields in formset.changed_objects],
                "deleted": [str(o) for o in formset.deleted_objects],
            }
            if any(rows.values()):
                evidence[formset.prefix] = rows
        audit_record(
            actor=request.user,
            action=self.audit_changed if change else self.audit_created,
            target=form.instance,
            evidence=evidence,
            request=request,
        )


class AccountTypeMarkupInline(admin.TabularInline):
    """Compact rows (no edit/add buttons beside the instrument) so they fit a phone."""

    model = AccountTypeMarkup
    extra = 1
    autocomplete_fields = ["instrument"]
    verbose_name = "markup"
    verbose_name_plural = "markups per instrument (points)"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "instrument":
            widget = field.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
            widget.widget.attrs["data-width"] = "10em"
        elif db_field.name == "markup_points":
            field.widget.attrs["style"] = "width: 7em"
        return field


@admin.register(AccountType)
class AccountTypeAdmin(AuditedConfigAdmin):
    list_display = ["name", "server", "group", "currency", "book", "default_leverage"]
    list_display += ["is_active", "order"]
    list_filter = ["server", "currency", "book", "is_active"]
    list_select_related = ["server"]
    inlines = [AccountTypeMarkupInline]
    audit_created = audit_events.ACCOUNT_TYPE_CREATED_IN_ADMIN
    audit_changed = audit_events.ACCOUNT_TYPE_CHANGED_IN_ADMIN

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead: accounts and openings keep pointing at it


@admin.register(Instrument)
class InstrumentAdmin(AuditedConfigAdmin):
    list_display = ["symbol", "description", "asset_class", "subclass", "contract_size"]
    list_display += ["digits", "quote_currency", "point_value", "aliases"]
    list_filter = ["asset_class", "subclass", "quote_currency"]
    search_fields = ["symbol", "description"]
    audit_created = audit_events.INSTRUMENT_CREATED_IN_ADMIN
    audit_changed = audit_events.INSTRUMENT_CHANGED_IN_ADMIN

    @admin.display(description="point value (1 lot)")
    def point_value(self, obj):
        value = obj.point_value
        return "—" if value is None else f"{value.normalize():f} {obj.quote_currency}".strip()

    def has_delete_permission(self, request, obj=None):
        return False  # deals and markups name it; an unused symbol does no harm


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


@admin.register(SharedNetwork)
class SharedNetworkAdmin(SimpleHistoryAdmin):
    """Addresses many unrelated people sign in from (an office, a carrier's NAT): sign-ins from
    them never link two clients (clients.links)."""

    list_display = ["network", "note", "created_at"]
    search_fields = ["network", "note"]
