from django.urls import path

from .referral_links import referral_link

app_name = "referrals"

urlpatterns = [path("<str:code>", referral_link, name="link")]
