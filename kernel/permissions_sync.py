"""Keep the role groups' model permissions in step with the models that exist.

Permissions are created by Django after migrations run, so the roles migration creates the groups and
``post_migrate`` (see ``kernel.apps``) attaches the permissions of every model, old and new.
"""

# app_label -> actions each role may take on that app's models
ROLE_PERMISSIONS = {
    "language_expert": {"annotation": ["view", "add", "change"]},
    "bd_expert": {"annotation": ["view", "add", "change"]},
    "reviewer": {"annotation": ["view", "add", "change"]},
    "ml_engineer": {
        "annotation": ["view"],
        "training_jobs": ["view", "add", "change"],
        "evaluation": ["view", "add", "change"],
        "deploy": ["view", "add", "change"],
    },
    "evaluator": {"evaluation": ["view", "add", "change"]},
    "admin": {
        app: ["view", "add", "change", "delete"]
        for app in ("annotation", "training_jobs", "evaluation", "deploy", "auth")
    },
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
