"""Forms of the job dashboard. Hyperparameters are not form fields: their set depends on the method,
so the template renders ``hp_<name>`` inputs from the engine's defaults, each with the engine field's
help text, and the view passes them on."""

from django import forms

from annotation.models.labels import Provenance
from annotation.services.exports import export_kind_choices
from kernel.fields import NOTE_CHARS
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot, Method, TrainingJob
from training_jobs.services.engine_config import PRESET_AUTO
from training_jobs.services.jobs import MAX_NODES, MAX_PROCESSES, gpu_queues

HYPER_PREFIX = "hp_"
PRESET_LABELS = [
    (PRESET_AUTO, "auto: the GPU worker decides (tiny on a CPU, paper with a GPU)"),
    ("tiny", "tiny: seconds on a CPU"),
    ("paper", "paper: the paper's values"),
]


class JobForm(forms.Form):
    name = forms.CharField(max_length=200)
    method = forms.ChoiceField(choices=Method.choices, initial=Method.REPO)
    preset = forms.ChoiceField(choices=PRESET_LABELS, initial=PRESET_AUTO, required=False)
    base_model = forms.ModelChoiceField(queryset=ModelVersion.objects.filter(method="base").order_by("name"))
    snapshots = forms.ModelMultipleChoiceField(queryset=DatasetSnapshot.objects.order_by("-created_at"))
    reward_config = forms.ModelChoiceField(queryset=RewardConfig.objects.order_by("name"), required=False)
    processes = forms.IntegerField(
        min_value=1, max_value=MAX_PROCESSES, initial=1, label="Processes per node", help_text="GPUs on each node"
    )
    nodes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_NODES,
        initial=1,
        help_text="Machines: that many workers of the queue each run one rank group of the processes above "
        "(the run directory must be on storage every node sees).",
    )
    queue = forms.ChoiceField(choices=())
    priority = forms.IntegerField(initial=0, min_value=-100, max_value=100)
    budget_from = forms.ModelChoiceField(
        queryset=TrainingJob.objects.order_by("-id"), required=False, label="Same budget as run"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [(q, q) for q in gpu_queues()]


def hyperparameters_from(data) -> dict[str, str]:
    return {key[len(HYPER_PREFIX) :]: value for key, value in data.items() if key.startswith(HYPER_PREFIX)}


class SnapshotForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=export_kind_choices)
    provenance = forms.MultipleChoiceField(
        choices=Provenance.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Pairs only; none = all four sources.",
    )
    reviewed_only = forms.BooleanField(required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=NOTE_CHARS, widget=forms.Textarea(attrs={"rows": 2}))

    def filters(self) -> dict:
        data = self.cleaned_data
        filters = {"provenance": data["provenance"], "reviewed_only": data["reviewed_only"]}
        for key in ("date_from", "date_to"):
            if data[key]:
                filters[key] = data[key].isoformat()
        return filters
