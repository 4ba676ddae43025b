"""The admin's app config (``INSTALLED_APPS``): Django's admin with the site of kernel/admin_site.py. Apart from
that module because an app config is imported before the models are ready."""

from django.contrib.admin.apps import AdminConfig


class ParleyAdminConfig(AdminConfig):
    default_site = "kernel.admin_site.ParleyAdminSite"
