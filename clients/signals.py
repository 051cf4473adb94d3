from django.dispatch import Signal

# Sent after commit when a client first funds their wallet (the FTD): client_id, actor.
client_funded = Signal()
