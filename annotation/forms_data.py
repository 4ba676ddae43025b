"""Forms of the import and export pages (they only parse; the services do the work)."""

from django import forms

from annotation.models import Project
from annotation.services.exports import ExportFilters, export_kind_choices
from engine.vocab import PROVENANCE_CHOICES


class ImportForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"))
    file = forms.FileField(help_text="JSONL, one dialogue per line (see docs/import-schema.md).")


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=export_kind_choices)
    part = forms.ChoiceField(
        choices=[("training", "training rows"), ("sidecar", "provenance sidecar")], initial="training", required=False
    )
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"), required=False)
    provenance = forms.MultipleChoiceField(
        choices=PROVENANCE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reviewed_only = forms.BooleanField(required=False)

    def filters(self) -> ExportFilters:
        data = self.cleaned_data
        return ExportFilters(
            project=data["project"],
            provenance=tuple(data["provenance"]),
            date_from=data["date_from"],
            date_to=data["date_to"],
            reviewed_only=data["reviewed_only"],
        )
