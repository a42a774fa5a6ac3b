"""Languages (issue 15): which one a request speaks, catalogues read from the committed .po
files (fuzzy entries never used), speaking a recipient's language outside a request, and
dates, times and numbers in each language's conventions."""

import io
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from app import i18n
from app.i18n import gettext as _
from app.web import formats

ES_PO = i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po"


# --- which language ---------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "header", "expected"), [
    ("es", "en-US,en;q=0.9", "es"),          # the person's setting wins over the browser
    ("en", "es-US,es;q=0.9", "en"),
    (None, "es-US,es;q=0.9,en;q=0.8", "es"),  # no setting: the browser
    (None, "fr-FR, es;q=0.5, en;q=0.4", "es"),  # its first language we speak
    (None, "en;q=0.2, es;q=0.9", "es"),       # by q, not by order
    (None, "es;q=0, en", "en"),               # q=0: "not this one"
    (None, "fr, de", "en"),                   # nothing we speak: English
    (None, None, "en"),
    ("fr", "es", "es"),                       # a setting we no longer speak is ignored
])
def test_the_setting_then_the_browser_then_english(setting, header, expected):
    assert i18n.resolve_language(setting, header) == expected


def test_language_for_a_recipient():
    assert i18n.language_for(SimpleNamespace(language="es")) == "es"
    assert i18n.language_for(SimpleNamespace(language=None), "es") == "es"
    assert i18n.language_for(SimpleNamespace(language=None)) == "en"
    assert i18n.language_for(SimpleNamespace(language="en"), "es") == "en"
    assert i18n.language_for(None, "xx") == "en"


def test_using_speaks_a_language_inside_the_block_only():
    i18n.activate("en")
    with i18n.using("es") as language:
        assert language == "es"
        assert i18n.current_language() == "es" and i18n.current_locale() == "es_US"
        assert _("Today") == "Hoy"
        with i18n.using("en"):
            assert _("Today") == "Today"
        assert _("Today") == "Hoy"
    assert i18n.current_language() == "en"
    assert _("Today") == "Today"
    with i18n.using("xx"):  # unknown: English
        assert _("Today") == "Today"


# --- catalogues -------------------------------------------------------------------------------


def test_spanish_is_read_from_the_committed_po_and_nothing_generated_is_needed():
    assert i18n.SUPPORTED_LANGUAGES == ("en", "es")
    assert ES_PO.exists()
    assert not list(i18n.LOCALE_DIR.rglob("*.mo")), "catalogues are compiled in memory"
    with ES_PO.open("rb") as f:
        catalog = read_po(f)
    assert catalog.locale_identifier == "es"
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    translations = i18n.translations_for("es")
    assert translations.gettext("Follow my phone") == "Usar el idioma de mi teléfono"
    assert translations is i18n.translations_for("es")  # read once, then cached
    # A string nobody translated yet reads in English.
    assert translations.gettext("A sentence no catalogue has.") == "A sentence no catalogue has."


def test_fuzzy_and_empty_entries_are_never_used(tmp_path):
    # Babel writes CLDR's three Spanish plural forms in this header; two are given, as gettext
    # translators do, and the count 2 still finds its plural.
    catalog = Catalog(locale="es")
    catalog.add("Reviewed", "Revisado")
    catalog.add("A guess", "Una suposición", flags=["fuzzy"])
    catalog.add("Not yet", "")
    catalog.add(("%(n)s day", "%(n)s days"), ("%(n)s día", "%(n)s días"))
    path = tmp_path / "messages.po"
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    path.write_bytes(buffer.getvalue())

    translations = i18n.load_catalogue(path)
    assert translations.gettext("Reviewed") == "Revisado"
    assert translations.gettext("A guess") == "A guess"
    assert translations.gettext("Not yet") == "Not yet"
    assert translations.ngettext("%(n)s day", "%(n)s days", 1) == "%(n)s día"
    assert translations.ngettext("%(n)s day", "%(n)s days", 2) == "%(n)s días"


def test_the_spanish_catalogue_has_no_fuzzy_entry_that_would_silently_be_dropped():
    with ES_PO.open("rb") as f:
        catalog = read_po(f)
    assert not catalog.fuzzy
    assert [m.id for m in catalog if m.id and m.fuzzy] == []


# --- dates, times and numbers -----------------------------------------------------------------

EVENING = datetime(2026, 12, 1, 20, 0)  # a Tuesday


@pytest.mark.parametrize(("name", "english", "spanish"), [
    ("time", "8:00 PM", "8:00 p.m."),
    ("weekday_date", "Tue Dec 1", "mar 1 dic"),
    ("date_year", "Dec 1, 2026", "1 dic 2026"),
    ("long_date_year", "Tuesday, December 1, 2026", "martes, 1 de diciembre de 2026"),
    ("datetime", "Tue Dec 1, 8:00 PM", "mar 1 dic, 8:00 p.m."),
    ("picker_date", "12/01/2026", "01/12/2026"),
])
def test_dates_and_times_in_each_language(name, english, spanish):
    assert formats.format_datetime(EVENING, name, "en") == english
    assert formats.format_datetime(EVENING, name, "es") == spanish
    with i18n.using("es"):
        assert formats.format_datetime(EVENING, name) == spanish


def test_a_spanish_clock_time_is_read_back():
    assert formats.parse_time("8:00 p.m.") == EVENING.time()
    assert formats.parse_time("8:00 p. m.") == EVENING.time()


def test_numbers_read_in_the_locale_and_stay_plain_for_machines():
    from app.templating import mg, mg_value

    assert formats.format_number(Decimal("12.50"), "es") == "12.5"  # es_US: a decimal point
    assert formats.format_number(Decimal("1200"), "en") == "1,200"
    assert formats.format_number(Decimal("1200.5"), "es") == "1,200.5"
    assert formats.format_number(Decimal("0.125"), "es") == "0.125"  # nothing rounded away
    with i18n.using("es"):
        assert mg(Decimal("1500.0")) == "1,500"
        assert mg_value(Decimal("1500.0")) == "1500"  # an input's value stays as HTML wants


def test_a_sentence_that_ends_with_a_spanish_time_ends_with_one_period():
    """"p.m." carries its own period; the sentence's period is not added after it, whether the
    message is filled in by Python or by a template (Jinja fills those in itself)."""
    from app.templating import env

    taken = formats.format_datetime(datetime(2026, 12, 1, 22, 5), "time", "es")
    assert taken == "10:05 p.m."
    page = env.from_string('{{ _("Last dose: %(mg)s mg on %(when)s.", mg=mg, when=when) }}')
    with i18n.using("es"):
        in_python = _("Last dose: %(mg)s mg on %(when)s.", mg="100", when=taken)
        in_page = page.render(mg="<100>", when=taken)
    assert in_python == "Última dosis: 100 mg el 10:05 p.m."
    assert in_page == "Última dosis: &lt;100&gt; mg el 10:05 p.m."  # still escaped
    with i18n.using("en"):
        assert page.render(mg="100", when="10:05 PM") == "Last dose: 100 mg on 10:05 PM."


def test_one_english_word_reads_as_its_meaning_in_spanish():
    """Where one English word has two meanings, each use says which (pgettext), in Python and
    in templates: an action "Open" is "Abrir", open alerts are "Abiertas"."""
    from app.templating import env

    page = env.from_string('{{ pgettext("alerts", "Open") }} · {{ _("Open") }} · '
                           '{{ pgettext("a dose session", "Missed") }}')
    with i18n.using("es"):
        assert i18n.pgettext("alerts", "Open") == "Abiertas"
        assert _("Open") == "Abrir"
        assert page.render() == "Abiertas · Abrir · No tomada"
    with i18n.using("en"):
        assert page.render() == "Open · Open · Missed"


def test_the_safety_check_button_says_check_in_spanish_too(db, client, login_as):
    """The gate's button once shared its msgid with the session record's column ("which
    check"), and a Spanish-speaking patient's safety check button read "Momento"."""
    from tests import factories

    patient = login_as("patient", language="es")
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    page = client.get("/today").text
    assert '<button type="submit" class="button primary">Comprobar</button>' in page
    assert "Momento" not in page


def test_the_phone_can_write_every_format_it_is_given():
    """The phone writes times (app/static/app.js TrocheClock: offline, and on a saved copy) from
    the patterns and names the page carries (formats.phone_clock): every token of those
    patterns, in each language, is one it writes, and every name a pattern uses comes along."""
    import re
    from pathlib import Path

    script = (Path(formats.__file__).parent.parent / "static" / "app.js").read_text()
    written = set(re.findall(r'case "(%-?[a-zA-Z%])"', script))
    assert {"%a", "%b", "%p", "%-I", "%M", "%-d"} <= written  # the walk reads the script
    for language in i18n.SUPPORTED_LANGUAGES:
        clock = formats.phone_clock("America/Chicago", language)
        assert clock["zone"] == "America/Chicago"
        assert clock["locale"] == i18n.LOCALES[language].replace("_", "-")  # en-US, es-US
        for name, pattern in clock["patterns"].items():
            assert pattern == formats.pattern(name, language)
            tokens = set(formats._TOKEN.findall(pattern))
            assert tokens <= written, (language, name, tokens - written)
            named = {t for t in tokens if t in ("%a", "%A", "%b", "%B", "%p")}
            assert named <= set(clock["names"]), (language, name)
    assert formats.phone_clock("UTC", "es")["names"]["%p"] == ["a.m.", "p.m."]


def test_a_page_that_does_not_exist_speaks_the_signed_in_persons_language(client, login_as):
    """An unknown address runs no route, so nothing had applied the person's own setting: the
    heading was Spanish (the page's template applies it) and the sentence under it English, on
    a phone whose browser asks for English."""
    login_as("patient", language="es")
    page = client.get("/reminders", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page.status_code == 404
    assert "No pudimos encontrar esa página." in page.text
    assert "We could not find that page." not in page.text


def test_no_template_runs_a_filter_on_a_literal():
    """Jinja works out a filter applied to a literal once, when it compiles the template, in
    the language of whichever request compiled it first: Today's "extra" | flag_label read
    "Dosis adicional" on English pages for the rest of the process once a Spanish patient had
    opened Today first. A literal is written with `_()`, which runs on every render."""
    from jinja2 import nodes

    from app.templating import env

    found = []
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]
        for node in env.parse(source).find_all(nodes.Filter):
            if isinstance(node.node, nodes.Const):
                found.append(f"{name}:{node.lineno} {node.node.value!r} | {node.name}")
    assert found == []
