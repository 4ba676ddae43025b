"""Forms of the annotation workspace. Answer and review input is validated by the services (one place);
these forms only shape the queue-creation page."""

from django import forms

from annotation.kinds import all_kinds, kind_choices
from annotation.models import (
    SOP,
    AnnotationQueue,
    Dialogue,
    Guideline,
    Lens,
    NegotiationCase,
    Project,
)


class QueueCreateForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"))
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(
        choices=kind_choices,
        help_text="Items per kind: " + "; ".join(f"{k.label.lower()}: {k.items_help}" for k in all_kinds()) + ".",
    )
    lens = forms.ChoiceField(choices=Lens.choices)
    target_overlap = forms.IntegerField(min_value=1, max_value=10, initial=2)
    per_user_cap = forms.IntegerField(min_value=1, required=False)
    reservation_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=30)
    review_sample_rate = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    blind = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Annotators see only their own answers until every slot of an item is answered "
        "(reviewers see all). Untick only for calibration rounds where annotators may read each other.",
    )
    guideline = forms.ModelChoiceField(queryset=Guideline.objects.all(), required=False)
    sop = forms.ModelChoiceField(queryset=SOP.objects.all(), required=False)
    # Filters (all optional) or an explicit selection of dialogue external ids, one per line.
    source = forms.ChoiceField(choices=[("", "any"), *Dialogue.Source.choices], required=False)
    hotel_type = forms.ChoiceField(choices=[("", "any"), *NegotiationCase.HotelType.choices], required=False)
    stage = forms.SlugField(required=False, help_text="Only turns of this SOP stage (rubric, bad case).")
    selection = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Dialogue external ids, one per line (empty: every match).",
    )

    def clean(self):
        data = super().clean()
        project, name = data.get("project"), data.get("name")
        if project and name and AnnotationQueue.objects.filter(project=project, name=name).exists():
            self.add_error("name", "A queue with this name already exists in the project.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        filters = {key: data[key] for key in ("source", "hotel_type", "stage") if data.get(key)}
        ids = [line.strip() for line in (data.get("selection") or "").splitlines() if line.strip()]
        if ids:
            filters["ids"] = list(
                Dialogue.objects.filter(project=data["project"], external_id__in=ids).values_list("id", flat=True)
            )
        return filters
