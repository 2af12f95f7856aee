"""The desk's browser tests: the real `switchboard serve` (test clock on, the recording sink for
Meta's Graph API) on a free loopback port, driven through headless Debian Chromium by Selenium.

Nothing is skipped: without Chromium, ChromeDriver or the binary the fixtures fail loudly."""

import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
SECRET = "desk-browser-secret"
NUMBER = "106540352242922"
WABA = "102290129340398"
ADMIN = "desk-admin-token"
ANA = "desk-ana-token"
# What the OIDC provider of test_oidc.py issues as Ana's id token: a token of the desk file here,
# as the stack's JWT authorizer would accept the real one.
OIDC_ID_TOKEN = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImRlc2stdGVzdCJ9."
                 "eyJzdWIiOiJhbmEiLCJjdXN0b206cm9sZSI6ImFnZW50In0.c2lnbmVkLWJ5LXRoZS10ZXN0LXByb3ZpZGVy")
SHOTS = Path(os.environ.get("DESK_SCREENSHOTS", ROOT / "desk" / "docs"))

DESK_FILE = f"""
[[numbers]]
id = "{NUMBER}"
waba_id = "{WABA}"
display_phone_number = "+1 555 010 4477"
auto_close_after = 259200
closing = "keep_assignee"
outreach_expiry = 2592000
expired_outreach_text = "This offer has ended. Reply here and an agent will help you."
unassigned_reply = {{ type = "text", body = "All our agents are busy; we will be right with you." }}
csat = {{ question = "How did we do today?" }}

[[agents]]
id = "ana"
capacity = 5
online = false

[[agents]]
id = "ben"
capacity = 2
online = false

[[templates]]
number = "{NUMBER}"
name = "spring_sale"
language = "en_US"
category = "MARKETING"
body = "Spring sale: 20% off everything this week. Interested?"
buttons = [{{ kind = "quick_reply", text = "Yes, tell me more" }}, {{ kind = "quick_reply", text = "No thanks" }}]

[[templates]]
number = "{NUMBER}"
name = "pick_up_again"
language = "en_US"
category = "UTILITY"
body = "We have an update on your request. Reply to continue the conversation."
recontact = true

[[tokens]]
agent = "admin"
role = "admin"
token = "{ADMIN}"

[[tokens]]
agent = "ana"
role = "agent"
token = "{ANA}"

[[tokens]]
agent = "ana"
role = "agent"
token = "{OIDC_ID_TOKEN}"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Switchboard:
    """The runner, and what Meta and the test clock do to it."""

    def __init__(self, base, work=None):
        self.base = base
        self.work = work
        self.wamids = 0

    def request(self, method, path, body=None, token=None, headers=None, raw=None):
        """A JSON request (`body`), or a CSV one (`raw` bytes, as campaign lists are uploaded)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if raw is not None:
            req.add_header("Content-Type", "text/csv")
        elif body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=130) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text and text[0] in "[{" else text)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, (json.loads(text) if text.startswith("{") else text)

    def api(self, method, path, body=None, token=ADMIN, expect=None):
        status, data = self.request(method, path, body, token)
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {data}"
        return data

    def now(self):
        return self.api("GET", "/dev/clock", token=None, expect=200)["now"]

    def advance(self, seconds):
        body = self.api("POST", "/dev/clock", {"advance_seconds": seconds}, token=None, expect=200)
        assert body["settled"] is True, body

    def webhook(self, value):
        body = json.dumps({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550104477", "phone_number_id": NUMBER},
                **value,
            }}]}],
        }).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(self.base + "/webhook", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("X-Hub-Signature-256", signature)
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        self.advance(0)

    def customer(self, contact, name, content):
        """A customer's message (signed, as Meta sends it), handled before this returns."""
        self.wamids += 1
        message = {"from": contact, "id": f"wamid.DESKUI{self.wamids:04d}", "timestamp": str(self.now()), **content}
        self.webhook({"contacts": [{"profile": {"name": name}, "wa_id": contact}], "messages": [message]})
        return message["id"]

    def status(self, contact, wamid, status, pricing=None):
        """Meta's delivery status for one of our messages, with how Meta priced it when given
        (`{"billable": …, "pricing_model": "PMP", "category": …, "type": …}`)."""
        update = {"id": wamid, "status": status, "timestamp": str(self.now()), "recipient_id": contact}
        if pricing is not None:
            update["pricing"] = pricing
        self.webhook({"statuses": [update]})

    def bury(self, contact, name, text, key):
        """A customer message the engine gave up on, as the runner keeps it (its `local_dead`
        table beside the database): the dead letter admins list and redeliver (OPS-4)."""
        now = self.now()
        event = {"key": key, "waba_id": WABA,
                 "business": {"phone_number_id": NUMBER, "display_phone_number": "15550104477"},
                 "body": {"kind": "message", "id": key, "timestamp": now,
                          "contact": {"key": contact, "wa_id": contact, "profile_name": name},
                          "content": {"type": "text", "body": text}}}
        with sqlite3.connect(self.work / "desk.db-queue", timeout=10) as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1000 FROM (SELECT seq FROM local_queue UNION ALL SELECT seq FROM local_dead)").fetchone()[0]
            db.execute("INSERT INTO local_dead (seq, dest, grp, key, body, attempts, reason, at_ms, first_ms) VALUES (?, 0, ?, ?, ?, 5, ?, ?, ?)",
                       (seq, f"{NUMBER}#{contact}", key, json.dumps(event), "the store was unavailable (the test says so)", now * 1000, now * 1000))
        return f"inbound-{seq}"

    def log(self, contact):
        return self.api("GET", f"/v1/numbers/{NUMBER}/contacts/{contact}/messages?limit=100", expect=200)["items"]


@pytest.fixture(scope="session")
def switchboard():
    yield from running_switchboard()


def running_switchboard():
    """Starts `switchboard serve` on a fresh database; yields it, stops it afterwards."""
    binary = Path(os.environ.get("SWITCHBOARD_BIN", ROOT / "target" / "debug" / "switchboard"))
    assert binary.exists(), f"{binary} is missing: build it first (cargo build -p switchboard-local)"
    work = Path(tempfile.mkdtemp(prefix="desk-browser-"))
    (work / "desk.toml").write_text(DESK_FILE)
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_CONFIG": str(work / "desk.toml"),
        "SWITCHBOARD_DB": str(work / "desk.db"),
        "SWITCHBOARD_ADDR": f"127.0.0.1:{port}",
        "SWITCHBOARD_TEST_CLOCK": "1",
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "desk-verify",
        "RUST_LOG": "warn",
    }
    env.pop("WHATSAPP_ACCESS_TOKEN", None)
    log = open(work / "serve.log", "w")
    process = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    sb = Switchboard(f"http://127.0.0.1:{port}", work)
    for _ in range(200):
        try:
            if sb.request("GET", "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError(f"switchboard serve did not start: {(work / 'serve.log').read_text()}")
    yield sb
    process.terminate()
    process.wait(timeout=20)
    log.close()
    shutil.rmtree(work, ignore_errors=True)


def chromium(width=1280, height=900):
    chrome = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    driver_path = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    assert Path(chrome).exists(), f"{chrome} is missing: apt-get install chromium chromium-driver"
    assert Path(driver_path).exists(), f"{driver_path} is missing: apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    # A headless window is at least 500 px wide: narrower screens are emulated, as a phone's.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver._desk_profile = profile
    return driver


@pytest.fixture(scope="session")
def browser():
    driver = chromium()
    yield driver
    driver.quit()
    shutil.rmtree(driver._desk_profile, ignore_errors=True)


@pytest.fixture(scope="session")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
