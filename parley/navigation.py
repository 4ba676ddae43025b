"""The top navigation: one list, filtered by the user's roles. An entry whose URL name does not
resolve (its app has not shipped that page) is left out instead of breaking every page."""

from django.urls import NoReverseMatch, reverse

from kernel.roles import ANNOTATORS, Role, has_role

NAV = [
    (
        "annotation:workspace",
        "Annotate",
        "Your next task: pairwise preferences, bad cases, rubric and ratings.",
        (*ANNOTATORS, Role.REVIEWER),
    ),
    ("annotation:review_queue", "Review", "Disagreements to adjudicate and gold decisions.", (Role.REVIEWER,)),
    (
        "annotation:dialogues",
        "Dialogues",
        "Browse and search every dialogue; branch, flag excellent turns.",
        (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER),
    ),
    (
        "annotation:dashboard",
        "Projects",
        "Progress, throughput, agreement and bad cases per project.",
        (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER),
    ),
    ("annotation:data_import", "Import / export", "Import dialogues; export TRL-ready datasets.", (Role.ML_ENGINEER,)),
    (
        "training_jobs:job_list",
        "Jobs",
        "Snapshots, RM / SFT / DPO / PPO / GRPO / REPO jobs and run comparison.",
        (Role.ML_ENGINEER,),
    ),
    (
        "rewards:config_list",
        "Rewards",
        "Rule sets, judge rubrics and the reward playground.",
        (Role.ML_ENGINEER,),
    ),
    ("evaluation:panel_home", "Evaluate", "Blind rating panels.", (Role.EVALUATOR,)),
    (
        "evaluation:eval_set_list",
        "Reports",
        "Eval sets, consensus and the paper's report.",
        (Role.ML_ENGINEER, Role.REVIEWER, Role.EVALUATOR),
    ),
    (
        "evaluation:study_list",
        "Studies",
        "Compare SFT, DPO, PPO, GRPO and REPO at one budget, evaluated automatically.",
        (Role.ML_ENGINEER,),
    ),
    ("registry:model_list", "Models", "Model registry, deployments and the playground.", (Role.ML_ENGINEER,)),
    ("deploy:key_list", "API keys", "Keys for the REST API and the gateway: create, revoke.", (Role.ML_ENGINEER,)),
    ("admin:index", "Admin", "Users, roles, raw data and exports.", (Role.ADMIN,)),
]


def nav_items(request) -> list[dict]:
    items = []
    for url_name, label, help_text, roles in NAV:
        if not has_role(request.user, roles):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "help": help_text, "active": False})
    # Only the entry with the longest matching prefix is active (/jobs/rewards/ is Rewards, not Jobs).
    matches = [item for item in items if item["url"] != "/" and request.path.startswith(item["url"])]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return items


def nav_context(request) -> dict:
    if not request.user.is_authenticated:
        return {"nav_items": []}
    return {"nav_items": nav_items(request)}
