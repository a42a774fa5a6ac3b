"""The browser harness catches Content-Security-Policy violations (every browser test fails on
one, at teardown), and our own forms still post under Referrer-Policy: no-referrer."""

import pytest

from app.seed import DEMO_PASSWORD


def response_policy(page) -> str:
    return page.evaluate(
        "() => fetch('/login').then(r => r.headers.get('content-security-policy'))")


def test_a_csp_violation_is_caught(new_context, live_server, console_errors):
    # No service worker: once it controls the page (it registers on /login), it fetches the
    # probe itself, past page.route, and the server answers 404 (CI, 1 run in many).
    context = new_context(service_workers="block")
    page = context.new_page()
    # A same-origin page with the app's CSP and an inline style and script: both refused.
    page.goto("/login")
    policy = response_policy(page)
    page.route("**/csp-probe", lambda route: route.fulfill(
        status=200, content_type="text/html",
        headers={"Content-Security-Policy": policy},
        body="<!doctype html><p style='color:red'>x</p><script>document.title='ran'</script>"))
    page.goto("/csp-probe")
    page.wait_for_timeout(200)  # the violation events are queued after parsing
    assert page.title() != "ran"  # the inline script did not run
    assert any("script-src" in v for v in console_errors.csp), console_errors.csp
    console_errors.csp.clear()  # caught, as intended: this test must not fail its teardown
    console_errors.expect("Content Security Policy")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_our_forms_post_under_no_referrer(new_context, demo, javascript):
    """A plain form post (no JavaScript) carries `Origin: null` under no-referrer; htmx's fetch
    carries the origin. Sec-Fetch-Site: same-origin lets both in (app/deps.py)."""
    page = new_context(java_script_enabled=javascript).new_page()
    response = page.goto("/login")
    assert response.headers["referrer-policy"] == "no-referrer"
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.get_by_label("Email").fill("patient@demo.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/today")
    (post,) = [r for r in posts if r.url.endswith("/login")]
    headers = post.all_headers()
    assert headers.get("sec-fetch-site") == "same-origin"
    if not javascript:
        assert headers.get("origin") == "null"
    assert "referer" not in headers
