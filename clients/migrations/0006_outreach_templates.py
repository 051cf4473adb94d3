"""Default retention outreach: an email and a call script for each signal that puts a client in
the retention queue. Ops edit them (and add other languages) in admin; an edited or deleted
template is never put back by this migration."""

from django.db import migrations

SIGN_OFF = "\n\nKind regards,\n{agent_name}\nClient Services"

TEMPLATES = [
    # --- losing streak: risk management and education, never pressure to trade --------------
    (
        "Losing streak: risk management (email)",
        "email",
        "losing_streak",
        "A few ideas on managing risk, {first_name}",
        "Hello {first_name},\n\n"
        "Markets have been demanding lately, and a run of losing trades is something every "
        "trader goes through. I would like to offer you a short one-to-one session on risk "
        "management: position sizing, stop-loss placement and how much of your balance to put "
        "at risk on a single trade.\n\n"
        "Our education centre also has free webinars on trading plans and managing drawdowns, "
        "and a demo account is always available if you would like to practise a strategy "
        "without risking your funds.\n\n"
        "Reply to this email or let me know a convenient time for a call." + SIGN_OFF,
    ),
    (
        "Losing streak: risk management (call script)",
        "call",
        "losing_streak",
        "",
        "1. Introduce yourself ({agent_name}) and ask whether it is a good time to talk.\n"
        "2. Acknowledge the recent results without judgement: losing runs happen to every "
        "trader.\n"
        "3. Ask how they plan their trades: position size, stop-loss, risk per trade.\n"
        "4. Offer a risk-management session, the education webinars and a demo account to "
        "practise on.\n"
        "5. Do not encourage trading to win losses back. Agree on a next step and log the "
        "outcome.",
    ),
    # --- balance drop ------------------------------------------------------------------------
    (
        "Balance drop: account review (email)",
        "email",
        "balance_drop",
        "Your account review, {first_name}",
        "Hello {first_name},\n\n"
        "I noticed a significant change in your trading account balance over the past week "
        "(now {currency} {balance}) and wanted to check that everything is in order.\n\n"
        "If it would help, I can walk you through your recent activity, margin requirements "
        "and the tools available to limit risk, such as stop-loss and take-profit orders. If "
        "the change was a withdrawal you planned, there is nothing you need to do.\n\n"
        "Simply reply to this email to arrange a short call." + SIGN_OFF,
    ),
    (
        "Balance drop: account review (call script)",
        "call",
        "balance_drop",
        "",
        "1. Introduce yourself ({agent_name}) and explain you are calling for an account "
        "review.\n"
        "2. Mention the balance change over the past week (now {currency} {balance}) and ask "
        "whether it was expected.\n"
        "3. If trading losses: review margin, leverage and stop-loss use; offer education "
        "resources.\n"
        "4. If a planned withdrawal: thank them and ask whether there is anything we can do "
        "better.\n"
        "5. Log the outcome.",
    ),
    # --- failed withdrawal: help fix the payment ---------------------------------------------
    (
        "Failed withdrawal: help with the payment (email)",
        "email",
        "failed_withdrawal",
        "Your recent withdrawal, {first_name}: we can help",
        "Hello {first_name},\n\n"
        "We are sorry that your recent withdrawal could not be completed. This usually happens "
        "when the card or account it is paid back to has expired, been replaced, or the "
        "payment provider needs additional details.\n\n"
        "I would be glad to help you sort it out. Please check that your payment method is up "
        "to date in the client portal, or reply to this email and I will look into it with our "
        "payments team. Your funds remain safely in your wallet in the meantime." + SIGN_OFF,
    ),
    (
        "Failed withdrawal: help with the payment (call script)",
        "call",
        "failed_withdrawal",
        "",
        "1. Introduce yourself ({agent_name}) and apologise for the failed withdrawal.\n"
        "2. Reassure the client that the funds are back in their wallet.\n"
        "3. Check the payment method: expired or replaced card, closed account, name "
        "mismatch.\n"
        "4. Explain how to update it in the portal and offer to raise it with the payments "
        "team.\n"
        "5. Log the outcome; if the client wants to withdraw again, note it for finance.",
    ),
    # --- no login ------------------------------------------------------------------------------
    (
        "No login: welcome back (email)",
        "email",
        "no_login",
        "We have kept your account ready, {first_name}",
        "Hello {first_name},\n\n"
        "It has been a while since you last visited the client portal. Your account is ready "
        "whenever you are, with a balance of {currency} {balance}.\n\n"
        "If you have trouble signing in, use the password reset link on the sign-in page or "
        "reply to this email and I will help you straight away. You will also find our latest "
        "market analysis and economic calendar in the portal." + SIGN_OFF,
    ),
    (
        "No login: welcome back (call script)",
        "call",
        "no_login",
        "",
        "1. Introduce yourself ({agent_name}) and ask whether it is a good time to talk.\n"
        "2. Mention they have not signed in for a while; ask whether they have any trouble "
        "accessing the portal (password, two-factor, device).\n"
        "3. Offer help to sign in and point them to the market analysis and economic "
        "calendar.\n"
        "4. Log the outcome.",
    ),
    # --- inactive: the generic check-in -------------------------------------------------------
    (
        "Inactive: check-in (email)",
        "email",
        "inactive",
        "Checking in, {first_name}",
        "Hello {first_name},\n\n"
        "I noticed you have not traded for {days_inactive} days and wanted to check in. Is "
        "there anything we could do better, or anything I can help you with: platform "
        "questions, market updates on {last_symbol}, or a review of your trading account?\n\n"
        "I am available for a short call at a time that suits you; just reply to this "
        "email." + SIGN_OFF,
    ),
    (
        "Inactive: check-in (call script)",
        "call",
        "inactive",
        "",
        "1. Introduce yourself ({agent_name}) and ask whether it is a good time to talk.\n"
        "2. Mention they have not traded for {days_inactive} days; ask open questions about "
        "their experience and plans.\n"
        "3. Offer help: platform questions, market updates on {last_symbol}, education "
        "resources.\n"
        "4. Listen for service issues and note them.\n"
        "5. Agree on a next step and log the outcome.",
    ),
]


def forwards(apps, schema_editor):
    OutreachTemplate = apps.get_model("clients", "OutreachTemplate")
    for name, channel, signal, subject, body in TEMPLATES:
        OutreachTemplate.objects.get_or_create(
            name=name,
            defaults={
                "channel": channel,
                "signal": signal,
                "language": "en",
                "subject": subject,
                "body": body,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("clients", "0005_instruments_default_policy")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
