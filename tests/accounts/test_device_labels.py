"""The short label the signed-in devices page shows, from a User-Agent (app/accounts/devices.py)."""

import pytest
from sqlmodel import select

from app.accounts.devices import MAX_LENGTH, device_label

CASES = [
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iPhone"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPad"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
     "Firefox on Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "Safari on Mac"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"),
]


@pytest.mark.parametrize(("header", "label"), CASES)
def test_common_browsers_get_a_readable_label(header, label):
    assert device_label(header) == label


@pytest.mark.parametrize("header", [None, "", "testclient", "curl/8.5.0", "python-httpx/0.28"])
def test_unrecognised_or_missing_header_has_no_label(header):
    assert device_label(header) is None


def test_label_is_short_and_never_the_raw_header():
    hostile = "Mozilla/5.0 (Android) Chrome/1 " + "<script>x</script>" * 5000
    label = device_label(hostile)
    assert label == "Chrome on Android"
    assert len(label) <= MAX_LENGTH


def test_a_stored_label_reads_in_the_readers_language():
    """Spanish pages said "Chrome on Linux": the label is stored as written, with the brands,
    and only its "on" is put in the reader's words when shown."""
    from app import i18n
    from app.accounts.devices import in_words

    with i18n.using("es"):
        assert in_words("Chrome on Android") == "Chrome en Android"
        assert in_words("Firefox") == "Firefox"
        # A name the person gave (a passkey's, say) is theirs, left as it is.
        assert in_words("My phone on the desk") == "My phone on the desk"
    assert in_words("Chrome on Android") == "Chrome on Android"
    assert in_words(None) is None


def test_the_devices_and_reminders_pages_name_devices_in_spanish(db, login_as, client):
    from app.accounts.models import AuthSession
    from tests.reminders.test_routes import _device

    patient = login_as("patient", language="es")
    for row in db.exec(select(AuthSession).where(AuthSession.user_id == patient.id)).all():
        row.device = "Safari on iPhone"
        db.add(row)
    _device(db, patient, "Chrome on Android")
    db.commit()
    devices = client.get("/account/devices").text
    assert "Safari en iPhone" in devices and "Safari on iPhone" not in devices
    reminders = client.get("/account/reminders").text
    assert "Chrome en Android" in reminders and " on Android" not in reminders
