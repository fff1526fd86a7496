"""URLs: DOT under /o/, Django's login view, and a protected API at /api/test/."""
import json
import os

from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path, re_path
from oauth2_provider.decorators import protected_resource
from oauth2_provider.views import ConnectDiscoveryInfoView


@protected_resource(scopes=["read"])
def api_test(request):
    """Requires a bearer token with the `read` scope; says whose it is."""
    return JsonResponse({"user": request.resource_owner.username})


class AdvertisingDiscovery(ConnectDiscoveryInfoView):
    """DOT 1.7's discovery view plus `code_challenge_methods_supported` (it sends none)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["code_challenge_methods_supported"] = os.environ["DOT_PKCE_METHODS"].split(",")
        return JsonResponse(data)


urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("api/test/", api_test),
]
if os.environ.get("DOT_ADVERTISE_PKCE") == "1":
    urlpatterns.append(re_path(r"^o/\.well-known/openid-configuration/$", AdvertisingDiscovery.as_view()))
urlpatterns.append(path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")))
