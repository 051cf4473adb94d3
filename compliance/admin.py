from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .lists import ListFileError
from .lists.csvlist import check_mapping
from .models import Case, CaseAttachment, CaseNote, CsvMapping, ListSource


class CsvMappingForm(forms.ModelForm):
    class Meta:
        model = CsvMapping
        fields = ["name", "mapping"]

    def clean_mapping(self):
        try:
            return check_mapping(self.cleaned_data["mapping"])
        except ListFileError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(ListSource)
class ListSourceAdmin(admin.ModelAdmin):
    """Which lists are screened against and from what score a name is a hit; imports and their
    entries are the compliance officers' (the back office's list pages), not edited here."""

    list_display = ["name", "code", "format", "kind", "threshold", "is_active"]
    list_editable = ["threshold", "is_active"]
    readonly_fields = ["code", "format", "created_at"]

    def has_add_permission(self, request):
        return False  # a list is created by its first import

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CsvMapping)
class CsvMappingAdmin(admin.ModelAdmin):
    """Column mappings of CSV lists (PEP vendors, internal lists), checked when saved."""

    form = CsvMappingForm
    list_display = ["name", "created_at"]


class _CaseRowsInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseNoteInline(_CaseRowsInline):
    model = CaseNote
    fields = ["created_at", "author", "text"]
    readonly_fields = fields


class CaseAttachmentInline(_CaseRowsInline):
    """A file's name, size and SHA-256 only: the file itself is served to compliance officers
    from the case page, never from the admin."""

    model = CaseAttachment
    fields = ["uploaded_at", "uploaded_by", "name", "content_type", "size", "sha256"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """AML cases as they stand, read-only: every field is a decision written, audited, by a
    service in `compliance.cases` from the case's page in the back office (linked here). No
    role is given rights on cases here; only a superuser sees them."""

    list_display = ["reference", "client", "status", "assigned_to", "due_at", "opened_at"]
    list_filter = ["status"]
    list_select_related = ["client__user", "assigned_to"]
    search_fields = ["=id", "client__user__email", "sar_reference"]
    fields = [
        "back_office",
        "client",
        "status",
        "summary",
        "screening_alerts",
        "aml_alerts",
        "assigned_to",
        "opened_by",
        "actor_label",
        "opened_at",
        "due_at",
        "investigating_at",
        "escalated_by",
        "escalated_at",
        "escalation_reason",
        "decided_by",
        "decided_at",
        "close_reason",
        "sar_reference",
        "sar_filed_on",
    ]
    readonly_fields = fields
    inlines = [CaseNoteInline, CaseAttachmentInline]

    @admin.display(description="Case page")
    def back_office(self, obj):
        url = reverse("compliance:case", args=[obj.pk])
        return format_html('<a href="{}">{} in the back office</a>', url, obj.reference)

    def has_add_permission(self, request):
        return False  # a case is opened by an officer (compliance.cases.case_open)

    def has_change_permission(self, request, obj=None):
        return False  # every step is a service, audited

    def has_delete_permission(self, request, obj=None):
        return False
