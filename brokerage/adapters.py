from allauth.account.adapter import DefaultAccountAdapter

from .audiences import home_url_for


class AccountAdapter(DefaultAccountAdapter):
    """Sends each audience to its own home after login."""

    def get_login_redirect_url(self, request):
        return home_url_for(request.user)

    def get_signup_redirect_url(self, request):
        return home_url_for(request.user)
