#!/usr/bin/python3
"""Starts django-oauth-toolkit (Debian's python3-django-oauth-toolkit 1.7) on a free loopback port.

    /usr/bin/python3 test/dot/serve.py '<json>'

The JSON names the users, the OAuth applications and the server's settings:
    {"users": [{"username": "alice", "password": "..."}],
     "applications": [{"clientId": "...", "clientType": "public" | "confidential",
                       "clientSecret": "...", "redirectUris": ["http://127.0.0.1/callback"]}],
     "accessTokenTtl": 3600, "pkceMethods": ["S256", "plain"], "advertisePkce": false}

It binds the port first (so that the issuer is known), migrates a fresh SQLite database in a
temporary directory, creates the users and applications, prints one JSON line
{"port": ..., "issuer": ...} and serves until its standard input closes. GET /_test/requests
answers the number of requests seen so far, by path.
"""
import json
import os
import shutil
import sys
import tempfile
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


def main():
    spec = json.loads(sys.argv[1])
    app_holder = {}
    server = make_server("127.0.0.1", 0, lambda env, start: app_holder["app"](env, start), ThreadingServer, QuietHandler)
    port = server.server_port
    issuer = f"http://127.0.0.1:{port}/o"
    workdir = tempfile.mkdtemp(prefix="tslab-oauth-dot-")

    from jwcrypto import jwk

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dotserver.settings",
            "DOT_DB": os.path.join(workdir, "db.sqlite3"),
            "DOT_ISSUER": issuer,
            "DOT_RSA_KEY": jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None).decode(),
            "DOT_ACCESS_TOKEN_TTL": str(spec.get("accessTokenTtl", 3600)),
            "DOT_PKCE_METHODS": ",".join(spec.get("pkceMethods", ["S256", "plain"])),
            "DOT_ADVERTISE_PKCE": "1" if spec.get("advertisePkce") else "0",
        }
    )
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    # A server that accepts only some PKCE methods: oauthlib's grant checks this table, both when
    # the authorization request arrives and when the code is exchanged.
    from oauthlib.oauth2.rfc6749.grant_types import authorization_code

    methods = spec.get("pkceMethods", ["S256", "plain"])
    table = authorization_code.AuthorizationCodeGrant._code_challenge_methods
    authorization_code.AuthorizationCodeGrant._code_challenge_methods = {k: v for k, v in table.items() if k in methods}

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0)
    User = get_user_model()
    for user in spec.get("users", []):
        User.objects.create_user(username=user["username"], password=user["password"])
    Application = get_application_model()
    for app in spec.get("applications", []):
        Application.objects.create(
            name=app.get("name", app["clientId"]),
            client_id=app["clientId"],
            client_secret=app.get("clientSecret", ""),
            client_type=app.get("clientType", "public"),
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(app["redirectUris"]),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=False,
        )
    django_app = get_wsgi_application()
    counts = {}
    lock = threading.Lock()

    def app(environ, start_response):
        # Requests seen, by path, for tests that assert "no token request was made".
        path = environ.get("PATH_INFO", "/")
        if path == "/_test/requests":
            body = json.dumps(counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with lock:
            counts[path] = counts.get(path, 0) + 1
        return django_app(environ, start_response)

    app_holder["app"] = app

    def stop_when_stdin_closes():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(json.dumps({"port": port, "issuer": issuer}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
