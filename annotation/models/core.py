"""Projects, SOPs and guidelines (versioned), negotiation cases with tickets, dialogues, messages, candidates."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from engine.task import MAX_MESSAGE_CHARS
from engine.vocab import (
    CANDIDATE_SOURCE_CHOICES,
    DIALOGUE_SOURCE_CHOICES,
    HOTEL_TYPE_CHOICES,
    LANGUAGE_CHOICES,
    MESSAGE_ROLE_CHOICES,
    MESSAGE_ROLES,
)
from kernel.choices import text_choices
from kernel.fields import (
    CLAUSE_CHARS,
    DESCRIPTION_CHARS,
    GUIDELINE_CHARS,
    JSON_SMALL_BYTES,
    JSONLimitValidator,
    LimitedTextField,
)


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = LimitedTextField(max_length=DESCRIPTION_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SOP(models.Model):
    """A versioned standard operating procedure; a new version is a new row (old answers keep theirs)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sops")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "SOP"
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "version"], name="sop_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="sop_version_positive"),
        ]
        ordering = ["project", "name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def to_document(self) -> dict:
        """The SOP as the plain dict ``engine.prompting`` renders (stages in order, clauses by code)."""
        stages = self.stages.order_by("order").prefetch_related("clauses")
        return {
            "name": self.name,
            "version": self.version,
            "stages": [
                {
                    "key": s.key,
                    "name": s.name,
                    "order": s.order,
                    "clauses": [{"code": c.code, "text": c.text} for c in s.clauses.all()],
                }
                for s in stages
            ],
        }


class SOPStage(models.Model):
    sop = models.ForeignKey(SOP, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sop", "key"], name="sopstage_unique_key"),
            models.UniqueConstraint(fields=["sop", "order"], name="sopstage_unique_order"),
        ]
        ordering = ["sop", "order"]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class SOPClause(models.Model):
    """An addressable clause ("3.2"): bad cases cite it and reports count violations per clause."""

    stage = models.ForeignKey(SOPStage, on_delete=models.CASCADE, related_name="clauses")
    sop = models.ForeignKey(SOP, on_delete=models.CASCADE, related_name="clauses")
    code = models.CharField(max_length=20)
    text = LimitedTextField(max_length=CLAUSE_CHARS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sop", "code"], name="sopclause_unique_code")]
        ordering = ["sop", "code"]

    def __str__(self) -> str:
        return f"§{self.code} {self.text[:60]}"


class Guideline(models.Model):
    """Annotation guidelines in Markdown, versioned; every answer records the version it was given under."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body_markdown = LimitedTextField(max_length=GUIDELINE_CHARS)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="guideline_unique_version")]
        ordering = ["project", "-version"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class NegotiationCase(models.Model):
    """The task data of one dialogue: hotel, tickets (below), allowed benefits, content language."""

    HotelType = text_choices("HotelType", HOTEL_TYPE_CHOICES)
    Language = text_choices("Language", LANGUAGE_CHOICES)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cases")
    hotel_name = models.CharField(max_length=200)
    hotel_type = models.CharField(max_length=20, choices=HotelType.choices)
    city = models.CharField(max_length=100, blank=True)
    benefits = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    language = models.CharField(max_length=5, choices=Language.choices, default="en")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "hotel_type"])]

    def __str__(self) -> str:
        return f"{self.hotel_name} ({self.hotel_type})"

    def to_task(self) -> dict:
        """The case in ``engine.task`` form (what prompts, rules and the judge read)."""
        return {
            "hotel": {"name": self.hotel_name, "type": self.hotel_type, "city": self.city},
            "tickets": [t.to_dict() for t in self.tickets.all()],
            "benefits": list(self.benefits or []),
            "language": self.language,
        }


class Ticket(models.Model):
    """One room type to bring down. Prices are validated in the database as well as in the schema."""

    case = models.ForeignKey(NegotiationCase, on_delete=models.CASCADE, related_name="tickets")
    position = models.PositiveSmallIntegerField(default=0)
    code = models.CharField(max_length=20, blank=True)
    room_type = models.CharField(max_length=200)
    current_price = models.DecimalField(max_digits=12, decimal_places=2)
    net_price = models.DecimalField(max_digits=12, decimal_places=2)
    target_price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=8, default="CNY")
    competitors = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])

    class Meta:
        ordering = ["case", "position"]
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="ticket_unique_position"),
            models.CheckConstraint(
                condition=Q(current_price__gt=0) & Q(net_price__gt=0) & Q(target_price__gt=0),
                name="ticket_prices_positive",
            ),
            models.CheckConstraint(
                condition=Q(target_price__lt=F("current_price")), name="ticket_target_below_current"
            ),
            models.CheckConstraint(condition=Q(net_price__lt=F("current_price")), name="ticket_net_below_current"),
        ]

    def __str__(self) -> str:
        return f"{self.room_type}: {self.current_price} → {self.target_price} {self.currency}"

    def to_dict(self) -> dict:
        return {
            "id": self.code or f"T{self.position + 1}",
            "room_type": self.room_type,
            "current_price": float(self.current_price),
            "net_price": float(self.net_price),
            "target_price": float(self.target_price),
            "currency": self.currency,
            "competitors": list(self.competitors or []),
        }


class Dialogue(models.Model):
    Source = text_choices("Source", DIALOGUE_SOURCE_CHOICES)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dialogues")
    case = models.ForeignKey(NegotiationCase, on_delete=models.PROTECT, related_name="dialogues")
    sop = models.ForeignKey(SOP, null=True, blank=True, on_delete=models.PROTECT, related_name="dialogues")
    external_id = models.CharField(max_length=200)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CURATED)
    # {"hotel_replied": bool, "price_reduced": "target"|"partial"|"refused"|"none", "tickets_closed": int,
    #  "follow_up_needed": bool}
    outcome = models.JSONField(default=dict, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "external_id"], name="dialogue_unique_external_id")]
        indexes = [models.Index(fields=["project", "source"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.external_id


class Message(models.Model):
    """One turn. ``index`` is its position; a judgement "at turn k" has the prompt ``messages[:k]``."""

    Role = text_choices("Role", MESSAGE_ROLE_CHOICES)

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="messages")
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    content = LimitedTextField(max_length=MAX_MESSAGE_CHARS, logged=True)
    stage = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["dialogue", "index"]
        constraints = [
            models.UniqueConstraint(fields=["dialogue", "index"], name="message_unique_index"),
            models.CheckConstraint(condition=Q(role__in=list(MESSAGE_ROLES)), name="message_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.dialogue_id}#{self.index} {self.role}"

    def to_dict(self) -> dict:
        return {"role": self.role, "content": self.content, "stage": self.stage or None}


class Candidate(models.Model):
    """A possible agent reply at turn ``turn`` of a dialogue (prompt = the dialogue's first ``turn`` messages)."""

    Source = text_choices("Source", CANDIDATE_SOURCE_CHOICES)

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="candidates")
    turn = models.PositiveIntegerField()
    text = LimitedTextField(max_length=MAX_MESSAGE_CHARS, logged=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    model_name = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=100, blank=True, help_text="Import key, unique within the dialogue.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    generation = models.ForeignKey(
        "annotation.BranchGeneration", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["dialogue", "turn"])]
        ordering = ["dialogue", "turn", "id"]

    def __str__(self) -> str:
        return f"{self.dialogue_id}@{self.turn} {self.source}: {self.text[:40]}"
