from django.dispatch import Signal

# Sent after commit when a client first funds their wallet (the FTD): client_id, actor.
client_funded = Signal()

# Public sign-up. clients alone listens to allauth; it makes the client's record and tells the
# apps above it with these two signals, each handled on its own (no receiver may rely on
# another having run). `kind` tells a client's sign-up ("client") from a partner's
# ("partner": the sign-up form sets `user.signup_kind`); clients makes records for clients only.
#
# signed_up (sender Client): kind, user, request, email (as typed: NOT proven yet), profile (a
# dict of plain values from the form: first_name, last_name, country, phone, language,
# experience, net_worth_usd; blanks left out), referral_code (the IB code the visitor brought
# through a referral link, "" if none). Sent once, in the sign-up's transaction. The address
# is not proven: nothing already on record (someone's lead, an IB's credit) may be linked to
# or changed for this user from here.
signed_up = Signal()

# signup_verified (sender Client): kind, user, request, email (proven), profile (what the
# records hold: first_name, last_name, country, phone, language). Sent when the address the
# user signed up with is confirmed (at sign-up, if it was proven already). From here, what is
# on record for that address may be linked to them and credited.
signup_verified = Signal()

# The referral link (ib's /r/<code>) remembers the IB's code in this signed cookie; sign-up
# reads it and passes it on as `referral_code`.
REFERRAL_COOKIE = "bo_ref"
REFERRAL_SALT = "ib.referral"
REFERRAL_MAX_AGE = 30 * 24 * 3600  # the attribution window: 30 days
