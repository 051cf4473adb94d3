from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from brokerage.admin import ReasonActionForm, action_reason
from brokerage.errors import InvalidInput
from brokerage.intl import country_choices
from clients.registration import registration_blocked

from .models import Attribution, Partner, PendingReferral, Referral
from .services import partner_create, partner_status_set, partner_user_check


class PartnerForm(forms.ModelForm):
    """A new partner's form asks for the country its account holder lives in: a resident of a
    country under a blocked jurisdiction rule is refused there, the rule named."""

    country = forms.ChoiceField(label="Country of residence", required=False)

    class Meta:
        model = Partner
        fields = ["user", "company_name", "referral_code", "parent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["country"]
        else:
            self.fields["country"].choices = [("", "Choose…"), *country_choices()]
            self.fields["country"].required = True

    def clean_country(self):
        country = self.cleaned_data["country"]
        blocked = registration_blocked(country)
        if blocked is not None:
            raise forms.ValidationError(blocked.message)
        return country

    def clean_user(self):
        user = self.cleaned_data["user"]
        if not self.instance.pk:
            try:
                partner_user_check(user)
            except InvalidInput as exc:
                raise forms.ValidationError(exc.message) from None
        return user


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    """A partner is added through `partner_create` (audited); afterwards their user, master IB
    and status are read-only here, and suspending or reactivating is an audited action (the
    hierarchy decides multi-tier commissions: it is not moved by editing a field)."""

    form = PartnerForm
    list_display = ["__str__", "referral_code", "parent", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "company_name", "referral_code"]
    list_select_related = ["user", "parent__user"]
    raw_id_fields = ["user", "parent"]
    action_form = ReasonActionForm
    actions = ["suspend", "reactivate"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "parent", "status"] if obj else ["status"]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [f for f in fields if f != "country"] if obj else fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        partner = partner_create(
            actor=request.user,
            user=obj.user,
            company_name=obj.company_name,
            referral_code=obj.referral_code,
            parent=obj.parent,
            country=form.cleaned_data.get("country", ""),
        )
        obj.pk = partner.pk

    def _status_set(self, request, queryset, status):
        if reason := action_reason(self, request):
            for partner in queryset:
                partner_status_set(
                    partner=partner, status=status, actor=request.user, reason=reason
                )
            self.message_user(request, f"{len(queryset)} {Partner.Status(status).label.lower()}.")

    @admin.action(description="Suspend (give the reason)", permissions=["change"])
    def suspend(self, request, queryset):
        self._status_set(request, queryset, Partner.Status.SUSPENDED)

    @admin.action(description="Reactivate (give the reason)", permissions=["change"])
    def reactivate(self, request, queryset):
        self._status_set(request, queryset, Partner.Status.ACTIVE)


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
