from django import forms
from django.contrib import admin

from .lists import ListFileError
from .lists.csvlist import check_mapping
from .models import CsvMapping, ListSource


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
