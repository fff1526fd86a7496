"""The Python contenders of bench/peers.ts: one warm interpreter per library, one login per line.

Run by bench/peers.ts as `/usr/bin/python3 worker.py <contender> <config JSON>` (Debian's python3,
whose dist-packages hold python3-google-auth-oauthlib and python3-requests-oauthlib), with
OAUTHLIB_INSECURE_TRANSPORT=1 (the demo IdP is plain http on loopback) and BROWSER set to the
benchmark's hand-off command. The library is imported once, then every line "login" on stdin runs
one full login and prints one JSON line: {"t0", "t1"} in milliseconds of CLOCK_MONOTONIC (the
clock Node's process.hrtime uses, so the benchmark can line them up with the server's and the user
agent's timestamps), around the call that returns the token, and "callbackAt", when the callback
request reached the listener (a timestamp taken in the listener's request handler: for
google-auth-oauthlib by wrapping its private _RedirectWSGIApp.__call__, which otherwise runs as is). The interpreter's start-up and the
import are outside that window; the first line printed, {"ready", "importMs"}, reports the import.

  google-auth-oauthlib  InstalledAppFlow.from_client_config(..., autogenerate_code_verifier=True)
                        then run_local_server(host="127.0.0.1", port=0): its own wsgiref listener
                        on http://127.0.0.1:<port>/ (root path), webbrowser.open, one request
                        served, the code exchanged with the client secret (HTTP Basic), the
                        google.oauth2 Credentials built. PKCE S256 (verifier of 128 characters).
  requests-oauthlib     OAuth2Session as its documentation shows it, with PKCE S256 done by hand
                        (requests-oauthlib 1.3.0 has no pkce option; oauthlib 3.2 passes
                        code_challenge and code_verifier through), an http.server listener on
                        http://127.0.0.1:<port>/callback, webbrowser.open, the public client.
"""

import base64
import contextlib
import hashlib
import http.server
import io
import json
import secrets
import sys
import time
import webbrowser


def emit(value):
    sys.__stdout__.write(json.dumps(value) + "\n")
    sys.__stdout__.flush()


def monotonic_ms():
    return time.monotonic_ns() / 1e6


# When the callback reached the contender's listener (its request line and headers parsed): where
# the user agent's part of the login ends. Only a timestamp is taken; the libraries run unchanged.
callback_at = None


def mark_callback():
    global callback_at
    if callback_at is None:
        callback_at = monotonic_ms()


def google_auth_oauthlib(config):
    import google_auth_oauthlib.flow as flow_module
    from google_auth_oauthlib.flow import InstalledAppFlow

    redirect_app_call = flow_module._RedirectWSGIApp.__call__

    def timed_call(self, environ, start_response):
        mark_callback()
        return redirect_app_call(self, environ, start_response)

    flow_module._RedirectWSGIApp.__call__ = timed_call

    client_config = {
        "installed": {
            "client_id": config["clientId"],
            "client_secret": config["clientSecret"],
            "auth_uri": config["authorizationEndpoint"],
            "token_uri": config["tokenEndpoint"],
        }
    }

    def login():
        flow = InstalledAppFlow.from_client_config(client_config, scopes=config["scopes"], autogenerate_code_verifier=True)
        # run_local_server prints "Please visit this URL..." to stdout, which carries our JSON.
        with contextlib.redirect_stdout(io.StringIO()):
            credentials = flow.run_local_server(host="127.0.0.1", port=0)
        return credentials.token

    return login


class CallbackHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        mark_callback()
        body = b"Signed in. You may close this window.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path.startswith("/callback?"):
            self.server.callback_path = self.path

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def requests_oauthlib(config):
    from requests_oauthlib import OAuth2Session

    def login():
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        server = http.server.HTTPServer(("127.0.0.1", 0), CallbackHandler)
        server.callback_path = None
        try:
            redirect_uri = "http://127.0.0.1:%d/callback" % server.server_port
            session = OAuth2Session(config["clientId"], redirect_uri=redirect_uri, scope=config["scopes"])
            url, _state = session.authorization_url(
                config["authorizationEndpoint"], code_challenge=challenge, code_challenge_method="S256"
            )
            webbrowser.open(url)
            while server.callback_path is None:
                server.handle_request()
            token = session.fetch_token(
                config["tokenEndpoint"],
                authorization_response="http://127.0.0.1:%d%s" % (server.server_port, server.callback_path),
                code_verifier=verifier,
                include_client_id=True,
            )
        finally:
            server.server_close()
        return token["access_token"]

    return login


CONTENDERS = {"google-auth-oauthlib": google_auth_oauthlib, "requests-oauthlib": requests_oauthlib}


def main():
    name = sys.argv[1]
    config = json.loads(sys.argv[2])
    started = time.perf_counter()
    login = CONTENDERS[name](config)
    emit({"ready": True, "importMs": (time.perf_counter() - started) * 1000})
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "login":
            continue
        global callback_at
        callback_at = None
        try:
            t0 = monotonic_ms()
            token = login()
            t1 = monotonic_ms()
            emit({"t0": t0, "t1": t1, "callbackAt": callback_at, "tokenLength": len(token)})
        except Exception as error:  # reported to the benchmark, which marks the contender failed
            emit({"error": "%s: %s" % (type(error).__name__, error)})


if __name__ == "__main__":
    main()
