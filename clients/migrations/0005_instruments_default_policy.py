"""Canonical instruments the sync recognises, and the default retention policy (12 days)."""

from django.db import migrations

INSTRUMENTS = [
    ("EURUSD", "Euro vs US dollar", "fx", []),
    ("GBPUSD", "Pound sterling vs US dollar", "fx", []),
    ("USDJPY", "US dollar vs Japanese yen", "fx", []),
    ("USDCHF", "US dollar vs Swiss franc", "fx", []),
    ("AUDUSD", "Australian dollar vs US dollar", "fx", []),
    ("USDCAD", "US dollar vs Canadian dollar", "fx", []),
    ("EURGBP", "Euro vs pound sterling", "fx", []),
    ("XAUUSD", "Gold vs US dollar", "metal", ["GOLD"]),
    ("XAGUSD", "Silver vs US dollar", "metal", ["SILVER"]),
    ("US30", "Dow Jones 30", "index", ["DJ30", "WS30"]),
    ("US500", "S&P 500", "index", ["SPX500"]),
    ("NAS100", "Nasdaq 100", "index", ["USTEC"]),
    ("GER40", "DAX 40", "index", ["DE40"]),
    ("BTCUSD", "Bitcoin vs US dollar", "crypto", []),
    ("ETHUSD", "Ether vs US dollar", "crypto", []),
    ("USOIL", "WTI crude oil", "commodity", ["WTI"]),
]


def forwards(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    for symbol, description, asset_class, aliases in INSTRUMENTS:
        Instrument.objects.get_or_create(
            symbol=symbol,
            defaults={"description": description, "asset_class": asset_class, "aliases": aliases},
        )
    RetentionPolicy = apps.get_model("clients", "RetentionPolicy")
    if not RetentionPolicy.objects.filter(desk__isnull=True).exists():
        RetentionPolicy.objects.create(desk=None, inactivity_days=12)


class Migration(migrations.Migration):
    dependencies = [("clients", "0004_trading_platforms_retention_tickets")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
