"""DESK-1 on AWS, in a real browser: the desk as the SAM stack serves it, signing in with OpenID
Connect (authorization code with PKCE). Three loopback servers stand in for the stack's parts:

- the desk's CloudFront distribution: the files scripts/deploy-desk puts in the bucket
  (`deploy_desk.desk_files`), an OIDC config.json as the stack's DeskConfig output, and the
  Content-Security-Policy of infra/template.yaml's DeskHeaders (its connect-src filled in);
- the API: the runner's /v1 behind a CORS front like the HTTP API's (no event stream: the desk
  polls, as it does on AWS);
- the provider: a tiny OIDC authorization server (the Cognito user pool's hosted pages and token
  endpoint) that checks the client, the redirect and the PKCE S256 challenge against the verifier.

The id token it issues is a token of the runner's desk file, so the API accepts it."""

import base64
import hashlib
import json
import re
import secrets
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By

from conftest import OIDC_ID_TOKEN, ROOT
from test_desk import text_of, wait

sys.path.insert(0, str(ROOT / "scripts"))
from deploy_desk import desk_files  # noqa: E402

CLIENT_ID = "desk-test-client"


def b64url_sha256(text):
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


class Server:
    """A loopback HTTP server whose handler is `handle(request) -> (status, headers, body)`."""

    def __init__(self, handle):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, payload = handle(self, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = answer

        self.seen = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Provider:
    """The OIDC provider: /authorize (hosted sign-in, here signed in at once), /token, /logout."""

    def __init__(self):
        self.codes = {}
        self.exchanges = []
        self.server = Server(self.handle)
        self.origin = self.server.origin
        self.desk_origin = None

    def handle(self, request, body):
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        cors = {"Access-Control-Allow-Origin": self.desk_origin, "Cache-Control": "no-store"}
        if url.path == "/authorize":
            problems = [k for k, want in [("response_type", "code"), ("client_id", CLIENT_ID),
                                          ("redirect_uri", f"{self.desk_origin}/"), ("code_challenge_method", "S256")]
                        if query.get(k) != want]
            if not re.fullmatch(r"[A-Za-z0-9_-]{43}", query.get("code_challenge", "")) or not query.get("state"):
                problems.append("code_challenge/state")
            if "openid" not in query.get("scope", "").split():
                problems.append("scope")
            if problems:
                return 400, {"Content-Type": "text/plain"}, f"bad authorize request: {problems}".encode()
            code = secrets.token_urlsafe(24)
            self.codes[code] = query["code_challenge"]
            back = f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
            return 302, {"Location": back}, b""
        if url.path == "/token" and request.command == "OPTIONS":
            return 204, {**cors, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type"}, b""
        if url.path == "/token" and request.command == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            self.exchanges.append(form)
            challenge = self.codes.pop(form.get("code", ""), None)
            ok = (form.get("grant_type") == "authorization_code" and form.get("client_id") == CLIENT_ID
                  and form.get("redirect_uri") == f"{self.desk_origin}/" and challenge is not None
                  and b64url_sha256(form.get("code_verifier", "")) == challenge)
            if not ok:
                return 400, {**cors, "Content-Type": "application/json"}, b'{"error": "invalid_grant"}'
            tokens = {"id_token": OIDC_ID_TOKEN, "access_token": "not-the-one-the-desk-sends",
                      "token_type": "Bearer", "expires_in": 3600}
            return 200, {**cors, "Content-Type": "application/json"}, json.dumps(tokens).encode()
        if url.path == "/logout":
            return 302, {"Location": query.get("logout_uri", "/")}, b""
        return 404, {}, b""


class Api:
    """The runner's /v1 behind a CORS front, as the HTTP API with its CorsConfiguration."""

    def __init__(self, runner):
        self.runner = runner
        self.desk_origin = None
        self.server = Server(self.handle)
        self.origin = self.server.origin

    def handle(self, request, body):
        cors = {"Access-Control-Allow-Origin": self.desk_origin}
        if request.command == "OPTIONS":
            return 204, {**cors, "Access-Control-Allow-Headers": "authorization,content-type,idempotency-key,if-match",
                         "Access-Control-Allow-Methods": "GET,POST,PUT,PATCH,DELETE", "Access-Control-Max-Age": "600"}, b""
        if not request.path.startswith("/v1/") or request.path.startswith("/v1/events/stream"):
            return 404, {**cors, "Content-Type": "application/json"}, b'{"error":"not_found","message":"Not Found"}'
        forward = urllib.request.Request(self.runner + request.path, data=body or None, method=request.command)
        for name in ["Authorization", "Content-Type", "Accept", "Idempotency-Key", "If-Match"]:
            if request.headers.get(name):
                forward.add_header(name, request.headers[name])
        try:
            with urllib.request.urlopen(forward, timeout=60) as r:
                status, payload, kind = r.status, r.read(), r.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            status, payload, kind = e.code, e.read(), e.headers.get("Content-Type", "application/json")
        return status, {**cors, "Content-Type": kind}, payload


def template_csp():
    """DeskHeaders' Content-Security-Policy as infra/template.yaml writes it."""
    template = (ROOT / "infra" / "template.yaml").read_text()
    match = re.search(r'- "(default-src [^"]+)"', template)
    assert match, "no ContentSecurityPolicy in infra/template.yaml's DeskHeaders"
    return match.group(1)


class DeskSite:
    """The desk's distribution: the bucket's files as scripts/deploy-desk lays them out."""

    def __init__(self, config, csp):
        self.files = {f"/{key}": (path, kind) for key, path, kind in desk_files()}
        self.files["/"] = self.files["/index.html"]
        self.config = config
        self.csp = csp
        self.server = Server(self.handle)
        self.origin = self.server.origin

    def handle(self, request, body):
        path = urllib.parse.urlsplit(request.path).path
        headers = {"Content-Security-Policy": self.csp, "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
        if path == "/desk/config.json":
            return 200, {**headers, "Content-Type": "application/json"}, json.dumps(self.config).encode()
        if path in self.files:
            file, kind = self.files[path]
            return 200, {**headers, "Content-Type": kind}, file.read_bytes()
        return 404, headers, b"Not Found"


@pytest.fixture(scope="module")
def stack(switchboard):
    provider = Provider()
    api = Api(switchboard.base)
    config = {"auth": "oidc", "api": api.origin, "client_id": CLIENT_ID,
              "authorization_endpoint": f"{provider.origin}/authorize", "token_endpoint": f"{provider.origin}/token",
              "logout_endpoint": f"{provider.origin}/logout", "scope": "openid email profile", "token": "id_token"}
    csp = (template_csp()
           .replace("https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}", api.origin)
           .replace("${TokenUrl}", f"{provider.origin}/token"))
    site = DeskSite(config, csp)
    config["redirect_uri"] = f"{site.origin}/"
    provider.desk_origin = api.desk_origin = site.origin
    yield {"provider": provider, "api": api, "site": site}
    for s in (provider.server, api.server, site.server):
        s.stop()


def fresh(browser, origin):
    browser.get(origin + "/desk/config.json")
    browser.execute_script("sessionStorage.clear()")


def test_desk_1_pkce_helpers_follow_rfc_7636(stack, browser):
    site = stack["site"]
    fresh(browser, site.origin)
    browser.get(site.origin + "/")
    browser.set_script_timeout(20)
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/desk/js/auth.js').then(async (auth) => {
          const verifiers = [auth.randomString(32), auth.randomString(32)];
          done({ verifiers, rfc: await auth.challengeOf('dBjftJeZ4CVP-mJ92K0jqw8dRQjKzROQq5_YlCK8wPkC'),
                 mine: await auth.challengeOf(verifiers[0]) });
        }, (e) => done({ error: String(e) }));""")
    assert "error" not in result, result
    for v in result["verifiers"]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", v), v
    assert result["verifiers"][0] != result["verifiers"][1]
    assert result["rfc"] == b64url_sha256("dBjftJeZ4CVP-mJ92K0jqw8dRQjKzROQq5_YlCK8wPkC")
    assert result["mine"] == b64url_sha256(result["verifiers"][0])


def test_desk_1_oidc_sign_in_with_code_and_pkce_keeps_tokens_out_of_urls(stack, browser):
    site, provider, api = stack["site"], stack["provider"], stack["api"]
    fresh(browser, site.origin)
    browser.get(f"{site.origin}/#/inbox?scope=all&status=open")
    button = wait(browser, lambda d: d.find_element(By.ID, "oidc-sign-in"), "the sign-in button")
    assert browser.find_elements(By.ID, "token") == [], "the token form is offered on AWS"
    button.click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".inbox h1"), "the inbox after signing in")
    # Back where the agent started, with the code and state gone from the address bar.
    assert browser.current_url == f"{site.origin}/#/inbox?scope=all&status=open", browser.current_url
    assert "ana (agent)" in browser.find_element(By.ID, "who").text
    assert browser.execute_script("return sessionStorage.getItem('switchboard.token')") == OIDC_ID_TOKEN
    assert browser.execute_script("return sessionStorage.getItem('switchboard.oidc')") is None, "the verifier was kept"
    [exchange] = provider.exchanges
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", exchange["code_verifier"]), exchange
    # The token went in the Authorization header of API calls, and in no URL anywhere.
    assert any(h.get("Authorization") == f"Bearer {OIDC_ID_TOKEN}" for _, _, h in api.server.seen)
    for server in (provider.server, api.server, site.server):
        assert not any(OIDC_ID_TOKEN in path or "not-the-one" in path for _, path, _ in server.seen)
    # No event stream on AWS: the desk polls.
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-live") == "poll", "polling")

    # Signing out ends the provider's session and comes back to the sign-in button.
    browser.find_element(By.ID, "sign-out").click()
    wait(browser, lambda d: d.find_elements(By.ID, "oidc-sign-in"), "the sign-in button again")
    assert browser.execute_script("return sessionStorage.getItem('switchboard.token')") is None
    assert any(path.startswith("/logout?") for _, path, _ in provider.server.seen)


def test_desk_1_oidc_answer_not_asked_for_by_this_tab_is_refused(stack, browser):
    site, provider = stack["site"], stack["provider"]
    fresh(browser, site.origin)
    before = len(provider.exchanges)
    browser.get(f"{site.origin}/?code=stolen-code&state=forged")
    error = wait(browser, lambda d: (e := d.find_element(By.ID, "sign-in-error")) and e.text and e, "the refusal")
    assert "state mismatch" in error.text
    assert len(provider.exchanges) == before, "a code not asked for was exchanged"
    assert "code=" not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('switchboard.token')") is None
    browser.get(f"{site.origin}/?error=access_denied&error_description=User+is+disabled")
    wait(browser, lambda d: "User is disabled" in d.find_element(By.ID, "sign-in-error").text, "the provider's refusal")
    assert "error=" not in browser.current_url
    assert text_of(browser, ".sign-in h1") == "Sign in to the desk"
