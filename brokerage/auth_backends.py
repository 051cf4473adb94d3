"""Django's model backend, with a user's own and their groups' permissions read in one
statement compiled once per process (every staff page asks for them: two queries and their
compiling before)."""

from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Value

from .statements import Statement


def _permissions(v):
    def of(rows, source):
        return (
            rows.order_by()
            .annotate(source=Value(source))
            .values_list("source", "content_type__app_label", "codename")
        )

    return of(Permission.objects.filter(user__id=v.user_id), "user").union(
        of(Permission.objects.filter(group__user__id=v.user_id), "group"), all=True
    )


_PERMISSIONS = Statement(_permissions)


class ModelBackend(DjangoModelBackend):
    def _get_permissions(self, user_obj, obj, from_name):
        if (
            not user_obj.is_active
            or user_obj.is_anonymous
            or obj is not None
            or user_obj.is_superuser
        ):
            return super()._get_permissions(user_obj, obj, from_name)
        cache = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache):
            found = {"user": set(), "group": set()}
            for source, app_label, codename in _PERMISSIONS(user_id=user_obj.pk):
                found[source].add(f"{app_label}.{codename}")
            user_obj._user_perm_cache = found["user"]
            user_obj._group_perm_cache = found["group"]
        return getattr(user_obj, cache)
