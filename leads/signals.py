from django.dispatch import Signal

# Sent inside the capture transaction: lead, created (bool), referral_code (str: the IB code
# that came with this touch, "" when the touch may not credit the lead), channel (the touch's),
# actor. Apps above leads act on it (ib credits the lead to the partner owning the code).
lead_captured = Signal()
