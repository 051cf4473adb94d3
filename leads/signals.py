from django.dispatch import Signal

# Sent inside the capture transaction: lead, created (bool), referral_code (str). The IB app
# attributes the lead to the partner owning the code.
lead_captured = Signal()
