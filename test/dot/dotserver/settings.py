"""Settings of the minimal Django project that serves django-oauth-toolkit to the tests.

Everything that changes between the servers a test starts comes from the environment, set by
serve.py before Django loads: the database file, the issuer, the access token lifetime and the
PKCE methods the server accepts.
"""
import os

SECRET_KEY = os.environ.get("DOT_SECRET_KEY", "tslab-oauth-tests-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ROOT_URLCONF = "dotserver.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # CommonMiddleware's APPEND_SLASH answers /o/.well-known/openid-configuration with a 301 to
    # the trailing-slash path DOT 1.7 serves, as in every project made by `startproject`.
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DOT_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
# The test users have throwaway passwords; hashing them slowly only slows the tests down.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": os.environ["DOT_RSA_KEY"],
    "OIDC_ISS_ENDPOINT": os.environ["DOT_ISSUER"],
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("DOT_ACCESS_TOKEN_TTL", "3600")),
    "SCOPES": {"openid": "Your identity", "profile": "Your name", "read": "Read the API"},
    "DEFAULT_SCOPES": ["read"],
}
