from django.dispatch import Signal

# A staff member was deactivated (user, actor): apps hand over what that person was holding.
staff_deactivated = Signal()
