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
    SOPStage,
)


def _stage_choices() -> list[tuple[str, str]]:
    """The SOP stages by key, named as the SOP names them, in the SOP's order (first SOP naming a key)."""
    seen: dict[str, str] = {}
    for key, name in SOPStage.objects.order_by("order", "id").values_list("key", "name"):
        seen.setdefault(key, f"{name} ({key})")
    return [("", "any stage"), *seen.items()]


class QueueCreateForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"), label="Project")
    name = forms.CharField(max_length=200, label="Queue name")
    kind = forms.ChoiceField(
        choices=kind_choices,
        label="Task kind",
        help_text="Items per kind: " + "; ".join(f"{k.label.lower()}: {k.items_help}" for k in all_kinds()) + ".",
    )
    lens = forms.ChoiceField(
        choices=Lens.choices, label="Expert lens", help_text="Who answers: language or BD experts."
    )
    target_overlap = forms.IntegerField(
        min_value=1, max_value=10, initial=2, label="Annotators per item", help_text="2 or more measures agreement."
    )
    per_user_cap = forms.IntegerField(
        min_value=1, required=False, label="Most answers per annotator", help_text="Empty: no limit."
    )
    reservation_minutes = forms.IntegerField(
        min_value=1,
        max_value=24 * 60,
        initial=30,
        label="Reservation (minutes)",
        help_text="How long a started task stays held for its annotator.",
    )
    review_sample_rate = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=0.1,
        label="Share of agreed items also reviewed",
        help_text="0 to 1; disagreements always go to review.",
    )
    blind = forms.BooleanField(
        required=False,
        initial=True,
        label="Blind",
        help_text="Annotators see only their own answers until every slot of an item is answered "
        "(reviewers see all). Untick only for calibration rounds where annotators may read each other.",
    )
    guideline = forms.ModelChoiceField(queryset=Guideline.objects.all(), required=False, label="Guideline version")
    sop = forms.ModelChoiceField(queryset=SOP.objects.all(), required=False, label="SOP version")
    # Filters (all optional) or an explicit selection of dialogue external ids, one per line.
    source = forms.ChoiceField(
        choices=[("", "any source"), *Dialogue.Source.choices], required=False, label="Dialogue source"
    )
    hotel_type = forms.ChoiceField(
        choices=[("", "any type"), *NegotiationCase.HotelType.choices], required=False, label="Hotel type"
    )
    stage = forms.ChoiceField(
        choices=_stage_choices,
        required=False,
        label="SOP stage",
        help_text="Only dialogues reaching this stage; rubric and bad-case items only at its turns.",
    )
    selection = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=200_000,
        label="Dialogue ids",
        help_text="Dialogue external ids, one per line (empty: every dialogue the filters match).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        projects = list(Project.objects.order_by("name")[:2])
        if len(projects) == 1:  # one project: preselect it, and its latest guideline and SOP
            project = projects[0]
            self.fields["project"].initial = project.pk
            self.fields["project"].empty_label = None
            self.fields["guideline"].initial = (
                Guideline.objects.filter(project=project).order_by("-version").values_list("pk", flat=True).first()
            )
            self.fields["sop"].initial = (
                SOP.objects.filter(project=project).order_by("-version").values_list("pk", flat=True).first()
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
