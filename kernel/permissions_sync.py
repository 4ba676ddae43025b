"""Keep the role groups' model permissions in step with the models that exist.

Permissions are created by Django after migrations run, so the roles migration creates the groups and
``post_migrate`` (see ``kernel.apps``) attaches the permissions of every model, old and new.
"""

EDIT = ["view", "add", "change"]
APPS = ("kernel", "registry", "annotation", "rewards", "training_jobs", "evaluation", "deploy")

# app_label -> actions each role may take on that app's models. The audit log (``kernel``), the model
# registry (``registry``) and reward configuration (``rewards``) keep the grants they had when they were
# models of annotation, deploy and training_jobs.
ROLE_PERMISSIONS = {
    "language_expert": {"annotation": EDIT, "kernel": EDIT},
    "bd_expert": {"annotation": EDIT, "kernel": EDIT},
    "reviewer": {"annotation": EDIT, "kernel": EDIT},
    "ml_engineer": {
        "annotation": ["view"],
        "kernel": ["view"],
        "registry": EDIT,
        "rewards": EDIT,
        "training_jobs": EDIT,
        "evaluation": EDIT,
        "deploy": EDIT,
    },
    "evaluator": {"evaluation": EDIT},
    "admin": {app: ["view", "add", "change", "delete"] for app in (*APPS, "auth")},
}


def sync_role_permissions(apps, role_permissions: dict) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for app_label, actions in grants.items():
            for action in actions:
                wanted += list(
                    Permission.objects.filter(content_type__app_label=app_label, codename__startswith=f"{action}_")
                )
        group.permissions.add(*wanted)
