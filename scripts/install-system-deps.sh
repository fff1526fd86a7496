#!/bin/sh
# Installs the system parts the tests need, from Debian's packages: Jupyter (notebook, nbconvert,
# nbclient, ipykernel) and Chromium for the notebook and browser tests; django-oauth-toolkit (a
# second real authorization server) for the compatibility tests; google-auth-oauthlib and
# requests-oauthlib, the Python peers `npm run bench` compares with; openssl for the TLS tests;
# LemonLDAP::NG 2.16 behind nginx (a third real authorization server, with the portal modules it
# loads at start: captcha via GD::SecurityImage and ImageMagick, String::Random, IO::String...);
# tinyproxy (a real HTTP proxy) and the test host name idp.tslab-oauth.test in /etc/hosts for the
# proxy tests; faketime, to run a provider whose clock is off, for the clock tests; a real Secret
# Service for the keychain tests: gnome-keyring on a private D-Bus session bus (dbus-daemon),
# inspected with secret-tool (libsecret-tools).
# Idempotent; needs root or sudo.
set -eu
need=""
command -v jupyter >/dev/null 2>&1 && /usr/bin/python3 -c "import nbclient, jupyter_client" 2>/dev/null || need="$need jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
/usr/bin/python3 -c "import oauth2_provider" 2>/dev/null || need="$need python3-django-oauth-toolkit"
# The hostile suite makes its test certificate authority with openssl.
command -v openssl >/dev/null 2>&1 || need="$need openssl"
[ -x /usr/bin/tinyproxy ] || need="$need tinyproxy-bin"
# libfaketime: the clock tests run the provider in a process whose clock is off (test/clock.test.ts).
command -v faketime >/dev/null 2>&1 || need="$need faketime"
# The keychain tests (test/keychain.test.ts): gnome-keyring on a private bus, inspected with secret-tool.
{ command -v dbus-daemon && command -v gnome-keyring-daemon && command -v secret-tool; } >/dev/null 2>&1 || need="$need dbus-daemon gnome-keyring libsecret-tools"
{ [ -x /usr/sbin/llng-fastcgi-server ] && [ -x /usr/sbin/nginx ] && perl -MGD::SecurityImage -MImage::Magick -MString::Random -MIO::String -e 1 2>/dev/null; } ||
  need="$need liblemonldap-ng-portal-perl lemonldap-ng-fastcgi-server liblemonldap-ng-manager-perl nginx libgd-perl libgd-securityimage-perl libimage-magick-perl libstring-random-perl libio-string-perl libcrypt-openssl-bignum-perl libconvert-base32-perl libmime-tools-perl libipc-run-perl libio-socket-timeout-perl libunicode-string-perl libhttp-browserdetect-perl"
/usr/bin/python3 -c "import google_auth_oauthlib, requests_oauthlib" 2>/dev/null || need="$need python3-google-auth-oauthlib python3-requests-oauthlib"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# The proxy tests need a host name that is not loopback but resolves to it (never a real address).
grep -q "idp.tslab-oauth.test" /etc/hosts 2>/dev/null || echo "127.0.0.1 idp.tslab-oauth.test" | $SUDO tee -a /etc/hosts >/dev/null
if [ -z "$need" ]; then
  echo "install-system-deps: Jupyter, Chromium, django-oauth-toolkit, LemonLDAP::NG, tinyproxy, faketime, gnome-keyring and the Python peers are already installed"
  exit 0
fi
echo "install-system-deps: installing$need"
$SUDO apt-get update -qq
# Packages with services (nginx, the LemonLDAP::NG FastCGI server) must not start them: the tests
# run their own on free loopback ports. A policy-rc.d that forbids starts, only while installing.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  policy=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
[ -z "$policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
