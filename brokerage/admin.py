from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from brokerage import audit_events

from .errors import InvalidInput
from .models import ApiKey, AuditEvent, Desk, Region, StaffProfile, User
from .permissions import is_admin_user
from .regions import region_change_check, region_countries, region_save
from .services import api_key_create, api_key_revoke, audit_record, staff_deactivate

# Only ops admins (and superusers) may enter /admin/, whatever model permissions say.
admin.site.has_permission = lambda request: is_admin_user(request.user)


class ReasonActionForm(ActionForm):
    """The action bar with a reason: admin actions that call a service pass it on, audited."""

    reason = forms.CharField(required=False, max_length=200, help_text="Why (audited).")


def action_reason(modeladmin: admin.ModelAdmin, request) -> str:
    """The reason typed beside the action, or "" after telling the user one is needed."""
    reason = " ".join(request.POST.get("reason", "").split())
    if not reason:
        modeladmin.message_user(
            request, "Give the reason beside the action; nothing was changed.", messages.ERROR
        )
    return reason


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [StaffProfileInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = ["groups"]

    def get_readonly_fields(self, request, obj=None):
        """Only a superuser grants superuser: ops admins manage roles, not the keys to them."""
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("is_superuser")
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # nor reset a superuser's password or groups
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if deactivating:
            obj.is_active = True  # saved as active, then switched off by the service below
        super().save_model(request, obj, form, change)
        if deactivating:
            staff_deactivate(actor=request.user, user=obj, reason="deactivated in admin")
        audit_record(
            actor=request.user,
            action=audit_events.USER_CHANGED_IN_ADMIN
            if change
            else audit_events.USER_CREATED_IN_ADMIN,
            target=obj,
            evidence={"changed": sorted(form.changed_data)},
            request=request,
        )


@admin.register(Desk)
class DeskAdmin(SimpleHistoryAdmin):
    list_display = ["name", "manager", "languages", "sla_minutes", "is_active"]
    search_fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "prefix", "is_active", "scopes", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at"]
    fields = ["name", "scopes", "is_active", "prefix", "created_by", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history must stay

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=audit_events.API_KEY_CHANGED,
                target=obj,
                evidence={"changed": sorted(form.changed_data)},
                request=request,
            )
            return
        key, raw = api_key_create(
            actor=request.user, name=obj.name, scopes=form.cleaned_data.get("scopes") or []
        )
        obj.pk = key.pk
        messages.warning(
            request,
            f"The key for {key.name} is {raw} — copy it now: only its hash is stored, "
            "it cannot be shown again.",
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(is_active=True):
            api_key_revoke(actor=request.user, key=key, reason="revoked in admin")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["id", "chain_seq", "occurred_at", "actor_label", "action", "target_repr"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_repr", "target_id", "reason"]
    list_select_related = ["seal"]

    @admin.display(description="Place in the chain")
    def chain_seq(self, obj):
        return obj.seq if obj.seq is not None else "being sealed"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RegionForm(forms.ModelForm):
    countries = forms.CharField(
        help_text="Two-letter ISO codes, separated by commas or spaces (e.g. DE, FR, IT).",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = Region
        fields = ["code", "name", "countries"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["countries"] = ", ".join(self.instance.countries)
            self.fields["code"].disabled = True

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()

    def clean_countries(self):
        try:
            countries = region_countries(self.cleaned_data["countries"])
            region_change_check(self.instance if self.instance.pk else None, countries)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None
        return countries


@admin.register(Region)
class RegionAdmin(SimpleHistoryAdmin):
    """Regions leverage limits name and IB rates are narrowed to: saved through `region_save`
    (audited; an app relying on a region's countries may refuse a change, with its reason)."""

    form = RegionForm
    list_display = ["code", "name", "country_count", "updated_at"]
    search_fields = ["code", "name"]

    @admin.display(description="Countries")
    def country_count(self, obj):
        return len(obj.countries)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = region_save(
            actor=request.user,
            region=obj if change else None,
            code=obj.code if change else data["code"],
            name=data["name"],
            countries=data["countries"],
        )
        obj.pk = saved.pk
