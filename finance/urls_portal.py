from django.urls import path

from . import views_portal

app_name = "wallet"

urlpatterns = [
    path("", views_portal.wallet, name="home"),
    path("deposit/", views_portal.deposit, name="deposit"),
    path("deposit/<str:reference>/", views_portal.deposit_status, name="deposit_status"),
    path("withdraw/", views_portal.withdraw, name="withdraw"),
    path("withdraw/wire/", views_portal.withdraw_wire, name="withdraw_wire"),
    path(
        "withdrawals/<str:reference>/cancel/",
        views_portal.withdrawal_cancel,
        name="withdrawal_cancel",
    ),
    path("transfer/", views_portal.transfer, name="transfer"),
    path("transfer/<str:comment>/", views_portal.transfer_status, name="transfer_status"),
    path("statement.pdf", views_portal.statement_pdf, name="statement"),
]
