"""One patient's record as a PDF for the chart: A4 portrait, readable on paper, pure Python.

`render(records, generated_at=…, prescriber=…)` shapes what `records.gather` found; it never
queries. fpdf2 draws it with DejaVu Sans embedded (app/exports/fonts, with its licence), so
names and notes in most European scripts print as typed. A character the font lacks (CJK,
for one) is printed as its code point, "[U+738B]", rather than silently dropped.

Every time says its zone: the patient's local time with the zone's abbreviation (their IANA
zone is in the header), and the generated-at time in UTC as well. No e-mail address or other
identifier beyond the patient's name goes into the document or its metadata.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app import i18n
from app.accounts.models import User
from app.alerts.service import kind_label as alert_kind_label
from app.checkins.instruments import FREQUENCY, MEASURES, SEDATION, instrument_for
from app.checkins.service import SessionRecord
from app.checkins.words import severity_words
from app.clinic.flags import code_label
from app.doses import reasons as dose_reasons
from app.doses.models import Dose, DoseStatus, LedgerKind
from app.doses.service import DUE_WINDOW
from app.exports.records import PatientRecords
from app.exports.revisions import revision_words
from app.i18n import gettext as _
from app.i18n import pgettext
from app.protocols import schedule
from app.protocols.changes import route_words, schedule_words
from app.protocols.versions import in_force
from app.templating import flag_label, risk_label, safety_event_words, shown_flags, verdict_words
from app.web.formats import format_number

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVuSans"
MARGIN = 15  # mm
BODY = 9  # pt
SMALL = 8
LINE = 4.6  # mm, body line height
GREY = (110, 110, 110)
LIGHT = (225, 225, 225)
PHQ_COLOUR = (31, 78, 140)
GAD_COLOUR = (176, 88, 0)
CHART_HEIGHT = 62  # mm


@cache
def _covered() -> frozenset[int]:
    """The code points DejaVu Sans (regular) has glyphs for."""
    with TTFont(FONTS / "DejaVuSans.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """`text` with each character the font cannot draw written as its code point."""
    covered = _covered()
    if all(ord(c) in covered or c in "\n\t" for c in text):
        return text
    return "".join(c if ord(c) in covered or c in "\n\t" else f"[U+{ord(c):04X}]" for c in text)


def _num(value: Decimal | int | float | None) -> str:
    """100, 12.5: no trailing zeros, in the reader's locale (app/web/formats.py)."""
    if value is None:
        return "—"
    return format_number(value)


class _Doc(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 5)
        self.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
        self._widths: dict[tuple[str, str, float], float] = {}

    def footer(self) -> None:
        self.set_y(-(MARGIN - 2))
        self.set_font(FAMILY, "", SMALL - 1)
        self.set_text_color(*GREY)
        self.cell(0, 4, printable(self._footer_text), align="L")
        self.set_x(MARGIN)
        # "{nb}" is fpdf2's alias for the page count, filled in when the document closes.
        self.cell(0, 4, _("Page %(n)s of %(total)s", n=self.page_no(), total="{nb}"),
                  align="R")
        self.set_text_color(0, 0, 0)

    # --- text helpers ----------------------------------------------------------------------

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def heading(self, text: str, need: float = 30) -> None:
        """A section heading, on a new page unless `need` mm fit below it."""
        if self.get_y() + 13 + need > self.page_break_trigger:
            self.add_page()
        self.ln(3)
        self.set_font(FAMILY, "B", 13)
        self.cell(0, 8, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*GREY)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(2)
        self.set_font(FAMILY, "", BODY)

    def subheading(self, text: str) -> None:
        if self.get_y() > self.page_break_trigger - 20:
            self.add_page()
        self.ln(1)
        self.set_font(FAMILY, "B", BODY + 1)
        self.multi_cell(0, LINE + 0.6, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", BODY)

    def para(self, text: str, *, size: float = BODY, muted: bool = False) -> None:
        self.set_font(FAMILY, "", size)
        if muted:
            self.set_text_color(*GREY)
        self.multi_cell(0, LINE, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def pairs(self, rows: Sequence[tuple[str, str]], label_width: float = 42) -> None:
        """Label: value lines, the label in bold."""
        for label, value in rows:
            self.set_font(FAMILY, "B", BODY)
            self.cell(label_width, LINE, printable(label))
            self.set_font(FAMILY, "", BODY)
            self.multi_cell(0, LINE, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` broken into lines no wider than `width` (mm) in the current font."""
        measure = self._measure
        space = measure(" ")
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                size = measure(word)
                while size > width and len(word) > 1:  # a word longer than the column
                    cut = max(1, int(len(word) * width / size))
                    while cut > 1 and measure(word[:cut]) > width:
                        cut -= 1
                    if line:
                        lines.append(line)
                    lines.append(word[:cut])
                    line, used = "", 0.0
                    word = word[cut:]
                    size = measure(word)
                if line and used + space + size > width:
                    lines.append(line)
                    line, used = word, size
                elif line:
                    line, used = f"{line} {word}", used + space + size
                else:
                    line, used = word, size
            lines.append(line)
        return lines

    def _measure(self, text: str) -> float:
        key = (text, self.font_style, self.font_size_pt)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self.get_string_width(text)
        return width

    def grid(self, headings: Sequence[str] | None, rows: Iterable[Sequence[Any]],
             widths: Sequence[float], *, size: float = SMALL, boxed: bool = False,
             keep_together: bool = False, title: str | None = None) -> None:
        """A table drawn with plain text operations (fpdf2's own table lays out each cell
        through its full line breaker, which is far too slow for a year of doses).

        A cell is text or (text, style), style one of "struck" (entered in error: grey and
        struck through) or "label" (bold on grey). A row with fewer cells than columns: its
        last cell spans the rest. Headings repeat after a page break; with `keep_together` the
        table and its `title` start on a new page rather than split.
        """
        scale = self.width / sum(widths)
        widths = [w * scale for w in widths]
        line_h, pad_x, pad_y = size * 0.42, 1.0, 0.9
        laid: list[tuple[float, list[tuple[list[str], str | None, float]]]] = []

        def lay(values: Sequence[Any], head: bool) -> None:
            cells = []
            spans = [*widths[:len(values) - 1], sum(widths[len(values) - 1:])]
            for value, w in zip(values, spans, strict=True):
                text, style = value if isinstance(value, tuple) else (value, None)
                style = "label" if head else style
                self.set_font(FAMILY, "B" if style == "label" else "", size)
                cells.append((self.wrap(printable(str(text)), w - 2 * pad_x), style, w))
            height = max(len(lines) for lines, _s, _w in cells) * line_h + 2 * pad_y
            laid.append((height, cells))

        if headings:
            lay(headings, True)
        for values in rows:
            lay(values, False)
        head = laid[0] if headings else None
        body = laid[1:] if headings else laid
        title_h = LINE + 2.5 if title else 0
        if keep_together and (self.get_y() + title_h + sum(h for h, _c in laid)
                              > self.page_break_trigger):
            self.add_page()
        if title:
            self.ln(1)
            self.set_font(FAMILY, "B", BODY + 1)
            self.cell(0, LINE + 1.5, printable(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

        def draw(height: float, cells: list[tuple[list[str], str | None, float]]) -> None:
            x, y = self.l_margin, self.get_y()
            for lines, style, w in cells:
                if style == "label":
                    self.set_fill_color(*LIGHT)
                    self.rect(x, y, w, height, style="F")
                self.set_font(FAMILY, {"label": "B", "struck": "S"}.get(style or "", ""), size)
                self.set_text_color(*(GREY if style == "struck" else (0, 0, 0)))
                for n, line in enumerate(lines):
                    if line:
                        self.text(x + pad_x, y + pad_y + (n + 1) * line_h - line_h * 0.22,
                                  line)
                if boxed:
                    self.rect(x, y, w, height)
                x += w
            self.set_text_color(0, 0, 0)
            if not boxed:
                self.set_draw_color(*GREY)
                self.set_line_width(0.1)
                self.line(self.l_margin, y + height, self.l_margin + self.width, y + height)
                self.set_draw_color(0, 0, 0)
                self.set_line_width(0.2)
            self.set_y(y + height)

        if head and self.get_y() + head[0] + (body[0][0] if body else 0) > \
                self.page_break_trigger:
            self.add_page()
        if head:
            draw(*head)
        for height, cells in body:
            if self.get_y() + height > self.page_break_trigger:
                self.add_page()
                if head:
                    draw(*head)
            draw(height, cells)
        self.set_font(FAMILY, "", BODY)
        self.ln(1)


# --- words ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    zone: ZoneInfo

    def at(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A UTC instant as the patient's local time, with the zone's abbreviation."""
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        return f"{local.strftime(fmt)} {local.tzname()}"

    def time(self, value: datetime | None) -> str:
        return self.at(value, "%H:%M")

    def day(self, value: datetime) -> date:
        return value.astimezone(self.zone).date()




def _bp(value: tuple[int, int] | None) -> str:
    return f"{value[0]}/{value[1]} mmHg" if value else "—"


# --- sections ---------------------------------------------------------------------------------


def _header(doc: _Doc, records: PatientRecords, clock: _Clock, generated_at: datetime,
            prescriber: User | None) -> None:
    patient = records.patient
    doc.set_font(FAMILY, "B", 16)
    doc.cell(0, 9, _("TrocheLog patient record"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.ln(1)
    local = generated_at.astimezone(clock.zone)
    doc.pairs([
        (_("Patient"), patient.display_name),
        (_("Patient's time zone"), patient.timezone),
        (_("Prescriber"), prescriber.display_name if prescriber else "—"),
        (_("Range"), _("%(start)s to %(end)s (the patient's local days, inclusive)",
                       start=records.start.isoformat(), end=records.end.isoformat())),
        (_("Generated"), _("%(utc)s UTC (%(local)s %(zone)s, the patient's local time)",
                           utc=generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                           local=local.strftime("%Y-%m-%d %H:%M"), zone=local.tzname())),
    ])
    doc.ln(1)
    doc.para(_("Times are the patient's local time; each says its zone."), size=SMALL,
             muted=True)


def _flags(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    """The patient list's open flags when the record was made, and the prescriber's reviews
    of flags in the range (the section showed safety events alone: an override, a held check
    or a count that did not match was under other headings, and no review said it was seen)."""
    if records.open_flags is not None:
        doc.subheading(_("Open on the patient list when this record was made"))
        if records.open_flags:
            doc.grid((_("Since"), _("Flag"), _("What")),
                     [(clock.at(f.since), code_label(f.code), f.message)
                      for f in records.open_flags], (35, 45, 100))
        else:
            doc.para(_("None open."))
    doc.subheading(_("Flags reviewed in this range"))
    if not records.flag_reviews:
        doc.para(_("None in this range."))
    else:
        doc.grid((_("Reviewed"), _("Flag"), _("By"), _("Note")),
                 [(clock.at(r.reviewed_at), code_label(r.code),
                   records.authors.get(r.reviewed_by_id, "—"), r.note)
                  for r in records.flag_reviews], (35, 45, 35, 65))
    doc.subheading(_("Safety events"))


def _safety(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("Flags and reviews"))
    _flags(doc, records, clock)
    if not records.safety_events:
        doc.para(_("No safety events in this range."))
    rows = []
    for event in records.safety_events:
        what = safety_event_words(event.kind, event.level, event.details)
        if event.holds_dosing:
            what += " — " + (_("dosing held until reviewed") if not event.reviewed_at
                             else _("dosing hold cleared at review"))
        if event.reviewed_at:
            review = _("%(when)s by %(who)s: %(note)s", when=clock.at(event.reviewed_at),
                       who=records.authors.get(event.reviewed_by_id, "—")
                       if event.reviewed_by_id else "—", note=event.review_note or "")
        else:
            review = _("Not reviewed")
        rows.append((clock.at(event.occurred_at), risk_label(event.level), what, review))
    if rows:
        doc.grid((_("Time"), _("Level"), _("Event"), _("Review")), rows, (35, 18, 60, 67))
    _alerts(doc, records, clock)
    held = [g for g in records.gates if g.verdict != "ok"]
    doc.subheading(_("Safety checks that held or found an emergency"))
    if not held:
        doc.para(_("None in this range."))
        return
    doc.grid((_("Time"), _("Verdict"), _("Reading"), _("Reasons")),
             [(clock.at(g.checked_at), verdict_words(g.verdict),
               f"{g.systolic}/{g.diastolic} mmHg, {g.heart_rate}/min",
               "; ".join(flag_label(r.get("code", "")) for r in g.reasons
                         if isinstance(r, dict)) or "—")
              for g in held], (35, 20, 40, 85))


def _alerts(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    """Who was told, and who answered: an event's row says what happened, not whether anyone
    acknowledged its alert (the pages showed it; no export did)."""
    doc.subheading(_("Alerts to the care team"))
    if not records.alerts:
        doc.para(_("None in this range."))
        return
    rows = []
    for a in records.alerts:
        if a.acknowledged_at:
            answer = _("%(when)s by %(who)s", when=clock.at(a.acknowledged_at),
                       who=records.authors.get(a.acknowledged_by_id, "—")
                       if a.acknowledged_by_id else "—")
            if a.acknowledgement_note:
                answer += ": " + a.acknowledgement_note
        else:
            answer = _("Not acknowledged")
        rows.append((clock.at(a.raised_at), alert_kind_label(a.kind),
                     str(a.notified_count), answer))
    doc.grid((_("Raised"), _("Alert"), _("Notified"), _("Acknowledged")), rows,
             (35, 50, 20, 75))


def _protocols(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("Protocol and phase history"))
    versions = sorted(records.protocols, key=lambda v: v.version)
    if not versions:
        doc.para(_("No protocol has been set."))
        return
    for v in versions:
        troches = v.dose_mg / v.strength_mg
        doc.subheading(_("Version %(n)s — %(when)s, by %(who)s", n=v.version,
                         when=clock.at(v.created_at),
                         who=records.authors.get(v.created_by_id, "—")))
        pulse = (_("; pulse outside %(low)s–%(high)s/min", low=v.pulse_hold_low or "—",
                   high=v.pulse_hold_high or "—")
                 if v.pulse_hold_low or v.pulse_hold_high else "")
        doc.pairs([
            (_("Reason"), v.reason),
            (_("Dose"), _("%(mg)s mg (%(n)s × %(strength)s mg troche), %(route)s, hold "
                          "%(hold)s min", mg=_num(v.dose_mg), n=_num(troches),
                          strength=_num(v.strength_mg), route=route_words(v.route),
                          hold=v.hold_minutes)),
            (_("Limits"), _("at least %(h)s h between doses; at most %(d)s mg per 24 h and "
                            "%(w)s mg per 7 days", h=_num(v.min_hours_between_doses),
                            d=_num(v.max_mg_per_24h), w=_num(v.max_mg_per_7d))),
            (_("Holds"), _("blood pressure at or above %(s)s/%(d)s mmHg%(pulse)s; sitter "
                           "%(sitter)s", s=v.bp_hold_systolic,
                           d=v.bp_hold_diastolic, pulse=pulse,
                           sitter=_("required") if v.sitter_required else _("not required"))),
            (_("Phases"), "\n".join(schedule_words(v)) or "—"),
        ], label_width=22)


@dataclass
class Adherence:
    scheduled: int  # sessions whose time has come (taken, missed, or still open)
    taken: int
    missed: int
    open: int  # due or overdue at generated_at
    upcoming: int
    doses: int  # recorded (not entered in error)
    extra: int
    late: int
    in_error: int
    total_mg: Decimal


def adherence(records: PatientRecords, generated_at: datetime) -> Adherence:
    """Sessions in the range under the protocol version in force at each (a version applies
    from when it was saved until the next one: schedule.occurrences_in_force, as every page
    judges past sessions), classified against the recorded doses as the patient's Today
    screen classifies them."""
    recorded = [d for d in records.doses if d.status != DoseStatus.ENTERED_IN_ERROR]
    times = [d.taken_at for d in recorded]
    occs = schedule.occurrences_in_force(in_force(records.protocols), records.zone,
                                         records.start_at, records.end_at, doses=times,
                                         due_window=DUE_WINDOW)
    states = Counter(status.state for status in schedule.classify_sessions(
        occs, times, generated_at, due_window=DUE_WINDOW))
    open_ = states[schedule.SessionState.DUE] + states[schedule.SessionState.OVERDUE]
    taken, missed = states[schedule.SessionState.TAKEN], states[schedule.SessionState.MISSED]
    return Adherence(
        scheduled=taken + missed + open_, taken=taken, missed=missed, open=open_,
        upcoming=states[schedule.SessionState.UPCOMING], doses=len(recorded),
        extra=sum("extra" in d.flags for d in recorded),
        late=sum("late_entry" in d.flags for d in recorded),
        in_error=len(records.doses) - len(recorded),
        total_mg=sum((d.dose_mg for d in recorded), Decimal(0)))


def _adherence(doc: _Doc, records: PatientRecords, generated_at: datetime) -> None:
    doc.heading(_("Adherence"))
    a = adherence(records, generated_at)
    # Doses a week over the treated part of the range: from the first session's day (or the
    # range's start) to the range's end or today, whichever is earlier.
    starts = [date.fromisoformat(e["starts_on"]) for v in records.protocols
              for e in v.timeline]
    first = max(records.start, min(starts)) if starts else records.start
    last = min(records.end, generated_at.astimezone(records.zone).date())
    days = (last - first).days + 1
    weeks = max(Decimal(days), Decimal(1)) / 7
    rate = f"{round(100 * a.taken / (a.taken + a.missed))}%" if a.taken + a.missed else "—"
    doc.pairs([
        (_("Sessions scheduled"), _("%(n)s (by the time this was generated)", n=a.scheduled)),
        (_("Taken"), str(a.taken)),
        (_("Missed"), str(a.missed)),
        (_("Open now"), _("%(n)s due or overdue; %(u)s still to come in the range",
                          n=a.open, u=a.upcoming)),
        (_("Sessions taken"), _("%(rate)s of sessions that were taken or missed", rate=rate)),
        # A weekly average of a few days is no average: one dose on one day read "7 a week".
        (_("Doses recorded"), _("%(n)s (%(mg)s mg in all; on average %(per)s a week)",
                                n=a.doses, mg=_num(a.total_mg),
                                per=_num((Decimal(a.doses) / weeks).quantize(Decimal("0.1"))))
         if days >= AVERAGE_FROM_DAYS else
         _("%(n)s (%(mg)s mg in all)", n=a.doses, mg=_num(a.total_mg))),
        (_("Extra doses"), _("%(n)s outside a session", n=a.extra)),
        (pgettext("a count of doses", "Entered later"), str(a.late)),
        (_("Entered in error"), str(a.in_error)),
    ])


# The shortest treated span the PDF gives a weekly average for: two weeks, two of a weekly
# maintenance schedule's sessions.
AVERAGE_FROM_DAYS = 14


def _band(instrument_key: str, band: str | None) -> str:
    instrument = instrument_for(instrument_key)
    for b in instrument.bands if instrument else ():
        if b.key == band:
            return _(b.label)
    return band or "—"


def _chart(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    """PHQ-9 and GAD-7 totals over the range, with the severity band thresholds (5, 10, 15,
    20) as dotted lines."""
    series = {key: [(clock.day(q.completed_at), q.score) for q in records.questionnaires
                    if q.instrument == key and q.score is not None]
              for key in ("phq9", "gad7")}
    if not any(series.values()):
        doc.para(_("No PHQ-9 or GAD-7 in this range."))
        return
    height, left, bottom_pad = CHART_HEIGHT, 10, 8
    if doc.get_y() + height + bottom_pad + 8 > doc.page_break_trigger:
        doc.add_page()
    x0, y0 = doc.l_margin + left, doc.get_y() + 2
    w, h = doc.width - left - 2, height - 6
    first, last = records.start, records.end
    span = max((last - first).days, 1)
    top = 27

    def px(day: date) -> float:
        return x0 + w * (day - first).days / span

    def py(score: float) -> float:
        return y0 + h - h * score / top

    doc.set_font(FAMILY, "", SMALL - 1)
    doc.set_draw_color(*GREY)
    doc.set_line_width(0.2)
    for threshold in (5, 10, 15, 20):
        doc.set_dash_pattern(0.6, 0.8)
        doc.line(x0, py(threshold), x0 + w, py(threshold))
    doc.set_dash_pattern()
    for tick in (0, 5, 10, 15, 20, 27):
        doc.set_xy(x0 - left, py(tick) - 1.5)
        doc.cell(left - 1, 3, str(tick), align="R")
    doc.set_draw_color(0, 0, 0)
    doc.line(x0, y0, x0, y0 + h)
    doc.line(x0, y0 + h, x0 + w, y0 + h)
    # Date ticks: the range's ends and up to five between.
    steps = min(6, span)
    for i in range(steps + 1):
        day = first + timedelta(days=round(span * i / steps))
        doc.line(px(day), y0 + h, px(day), y0 + h + 1)
        doc.set_xy(px(day) - 10, y0 + h + 1)
        doc.cell(20, 3, day.isoformat(), align="C")
    doc.set_line_width(0.5)
    for key, colour, square in (("phq9", PHQ_COLOUR, False), ("gad7", GAD_COLOUR, True)):
        points = [(px(d), py(s)) for d, s in series[key]]
        if not points:
            continue
        doc.set_draw_color(*colour)
        doc.set_fill_color(*colour)
        if key == "gad7":
            doc.set_dash_pattern(1.5, 1)
        if len(points) > 1:
            doc.polyline(points)
        doc.set_dash_pattern()
        for x, y in points:
            if square:
                doc.rect(x - 0.9, y - 0.9, 1.8, 1.8, style="F")
            else:
                doc.circle(x - 1, y - 1, 1, style="F")
    doc.set_line_width(0.2)
    # Legend
    ly = y0 + h + 5
    doc.set_xy(x0, ly)
    for colour, label in ((PHQ_COLOUR, _("PHQ-9 (solid, dots)")),
                          (GAD_COLOUR, _("GAD-7 (dashed, squares)"))):
        doc.set_fill_color(*colour)
        doc.rect(doc.get_x(), ly + 0.8, 4, 1.5, style="F")
        doc.set_x(doc.get_x() + 5)
        doc.cell(45, 3, label)
    doc.set_text_color(*GREY)
    doc.cell(0, 3, _("Dotted lines: band thresholds 5, 10, 15, 20"))
    doc.set_text_color(0, 0, 0)
    doc.set_fill_color(255, 255, 255)
    doc.set_draw_color(0, 0, 0)
    doc.set_xy(doc.l_margin, ly + 5)
    doc.set_font(FAMILY, "", BODY)


def _questionnaires(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("PHQ-9 and GAD-7 trend"), need=CHART_HEIGHT + 16)
    _chart(doc, records, clock)
    if not records.questionnaires:
        return
    doc.subheading(_("Questionnaires"))
    frequency = {o.value: _(o.label) for o in FREQUENCY}
    rows = []
    for q in records.questionnaires:
        instrument = instrument_for(q.instrument)
        title = _(instrument.title) if instrument else q.instrument
        notes = ""
        if q.instrument == "phq9" and q.answers.get("q9") is not None:
            notes = _("Item 9 (thoughts of self-harm): %(a)s",
                      a=frequency.get(q.answers["q9"], q.answers["q9"]))
        if q.risk:
            notes = _("Risk: %(risk)s", risk=risk_label(q.risk))
        score = "—" if q.score is None else str(q.score)
        if q.score is not None and instrument and instrument.max_score:
            score = f"{q.score}/{instrument.max_score}"
        rows.append((clock.at(q.completed_at), title, score,
                     _band(q.instrument, q.band) if q.band else "—", notes or "—"))
    doc.grid((_("Completed"), _("Questionnaire"), _("Score"), _("Band"), _("Notes")), rows,
             (35, 25, 15, 30, 75))


def _dose_notes(dose: Dose, records: PatientRecords, clock: _Clock) -> str:
    notes = []
    if dose.status == DoseStatus.ENTERED_IN_ERROR:
        notes.append(_("ENTERED IN ERROR: %(why)s", why=dose.status_reason or "—"))
    for rev in records.revisions.get(dose.id, []):
        changes = revision_words(rev, clock.at)
        notes.append(_("Revised %(when)s by %(who)s (%(why)s): %(changes)s",
                       when=clock.at(rev.at), who=rev.by_name or "—", why=rev.reason,
                       changes=changes or "—"))
    notes += dose_reasons.dose_account(dose)  # as the pages and the FHIR bundle say them
    return "\n".join(notes)


def _doses(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("Doses"))
    if not records.doses:
        doc.para(_("No doses in this range."))
        return
    rows = []
    for d in sorted(records.doses, key=lambda d: d.taken_at):
        cells: list[Any] = [clock.at(d.taken_at, "%a %Y-%m-%d %H:%M"), f"{_num(d.dose_mg)} mg",
                            _num(d.troches), route_words(d.route),
                            ", ".join(flag_label(f) for f in shown_flags(d.flags)) or "—"]
        if d.status == DoseStatus.ENTERED_IN_ERROR:
            cells = [(c, "struck") for c in cells]
        cells.append(_dose_notes(d, records, clock) or "—")
        rows.append(cells)
    doc.grid((pgettext("when a dose was taken", "Taken"), _("Amount"), _("Troches"), _("Route"),
              _("Flags"), _("Notes")),
             rows, (37, 15, 15, 19, 34, 60))


def session_records(records: PatientRecords) -> list[SessionRecord]:
    """A session record per recorded dose, in time order (gathered with the range)."""
    return [records.sessions[d.id] for d in sorted(records.doses, key=lambda d: d.taken_at)
            if d.id in records.sessions]


def _sessions(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("Session records"))
    cards = session_records(records)
    if not cards:
        doc.para(_("No sessions in this range."))
        return
    sedation = {o.value: _(o.label) for o in SEDATION}
    for card in cards:
        dose = card.dose
        title = _("%(when)s — %(mg)s mg %(route)s", when=clock.at(dose.taken_at),
                  mg=_num(dose.dose_mg), route=route_words(dose.route))
        # A session after a dose against a hold, or through an override, read like any other.
        flags = dose.flags or ()
        if "against_hold" in flags:
            title += " — " + flag_label("against_hold")
        elif "override" in flags:
            title += " — " + code_label("override")
        effects = ", ".join(f"{_(MEASURES[k].label) if k in MEASURES else k} ({severity_words(v)})"
                            for k, v in card.side_effects.items()) or _("none recorded")
        sitter = (_("%(who)s at %(when)s", who=card.sitter_confirmed_by,
                    when=clock.time(card.sitter_confirmed_at))
                  if card.sitter_confirmed_by else
                  (_("sitter present (patient's checklist)") if card.sitter_present
                   else "—"))
        ready = "—"
        if card.ready_alone_at:
            ready = _("%(when)s (%(n)s min after the dose)", when=clock.time(card.ready_alone_at),
                      n=card.duration_minutes)
            if card.ready_alone_by:
                ready += " " + _("by %(who)s", who=card.ready_alone_by)
        rows: list[Sequence[Any]] = []
        for labels, values in (
            ((_("BP before"), _("BP +40 min"), _("BP at end")),
             (_bp(card.bp_before), _bp(card.bp_plus40), _bp(card.bp_end))),
            ((_("Peak dissociation"), _("Worst sedation"), _("Side effects")),
             ("—" if card.peak_dissociation is None else f"{card.peak_dissociation}/10",
              "—" if card.worst_sedation is None
              else f"{card.worst_sedation}: {sedation.get(card.worst_sedation, '')}",
              effects)),
            ((_("Sitter confirmed by"), _("Ready to be alone"), _("Observations")),
             (sitter, ready, _("%(n)s by the sitter", n=len(card.observations))
              if card.observations else "—")),
        ):
            rows.append([(text, "label") for text in labels])
            rows.append(values)
        if card.summary:
            rows.append([(_("Summary"), "label"), card.summary])
        doc.grid(None, rows, (1, 1, 1), boxed=True, keep_together=True, title=title)


def _signed(value: Decimal) -> str:
    """A difference with its sign: "+1", "-2.5", "0"."""
    return ("+" if value > 0 else "") + _num(value)


def _ledger(doc: _Doc, records: PatientRecords, clock: _Clock) -> None:
    doc.heading(_("Troche ledger reconciliation"))
    if not records.ledger:
        doc.para(_("No fills or counts in this range."))
        return
    recorded = [d for d in records.doses if d.status != DoseStatus.ENTERED_IN_ERROR]
    rows = []
    previous: datetime | None = None
    for entry in records.ledger:
        taken = sum((d.troches for d in recorded if (previous is None or d.taken_at > previous)
                     and d.taken_at <= entry.occurred_at), Decimal(0))
        since = _num(taken) if previous is not None else _("%(n)s (from the range's start)",
                                                          n=_num(taken))
        previous = entry.occurred_at
        flags = ", ".join(flag_label(f) for f in entry.flags)
        if entry.kind == LedgerKind.FILL:
            detail = ", ".join(p for p in (
                _("%(mg)s mg troches", mg=_num(entry.strength_mg)) if entry.strength_mg else "",
                _("Rx %(n)s", n=entry.rx_number) if entry.rx_number else "",
                entry.pharmacy or "", _("lot %(n)s", n=entry.lot) if entry.lot else "") if p)
            filled = (entry.filled_on.isoformat() if entry.filled_on
                      else clock.at(entry.occurred_at, "%Y-%m-%d"))
            rows.append((filled, _("Fill"), since,
                         f"+{_num(entry.count)}", "", "", "; ".join(filter(None, (detail,
                                                                                  flags))) or "—"))
        else:
            expected = entry.expected_balance
            diff = "—" if expected is None else _signed(entry.count - expected)
            # "Taken since last" is the record as it stands; a dose corrected or struck since
            # the count, or a dose or fill dated before it but recorded after it, changes what
            # it expects: both are given, or the row does not add up and a shortfall
            # disappears.
            now_expected = records.expected_now.get(entry.id)
            changed = ""
            if expected is not None and now_expected is not None and now_expected != expected:
                changed = _("By the record as it stands now (entries recorded, corrected or "
                            "marked entered in error since the count): %(expected)s expected, "
                            "difference %(diff)s.", expected=_num(now_expected),
                            diff=_signed(entry.count - now_expected))
            rows.append((clock.at(entry.occurred_at), _("Count"), since,
                         _num(expected), _num(entry.count), diff,
                         "; ".join(filter(None, (flags, changed))) or "—"))
    doc.grid((_("When"), _("Event"), _("Taken since last"), _("Filled / expected"),
              _("Counted"), _("Difference"), _("Details")), rows,
             (35, 13, 22, 20, 16, 20, 54))
    doc.para(_("Troches; the expected count is what the record said should be on hand when "
               "the count was made (last count, plus fills, minus doses). Where an entry was "
               "recorded, corrected or marked entered in error since, Details gives what the "
               "record expects now."), size=SMALL, muted=True)


def render(records: PatientRecords, *, generated_at: datetime, prescriber: User | None,
           language: str | None = None) -> bytes:
    """The record as a PDF in `language` (the reader's: whoever asked for it), or the active
    one."""
    with i18n.using(language or i18n.current_language()):
        return _render(records, generated_at=generated_at, prescriber=prescriber)


def _render(records: PatientRecords, *, generated_at: datetime, prescriber: User | None) -> bytes:
    clock = _Clock(records.zone)
    local = generated_at.astimezone(clock.zone)
    footer = _("%(name)s · %(start)s to %(end)s · generated %(utc)s UTC (%(local)s)",
               name=records.patient.display_name, start=records.start.isoformat(),
               end=records.end.isoformat(),
               utc=generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
               local=f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname()}")
    doc = _Doc(footer)
    # The metadata says what the document is and nothing more: no e-mail, no name.
    doc.set_title(_("TrocheLog patient record"))
    doc.set_creator("TrocheLog")
    doc.set_producer("TrocheLog")
    doc.set_creation_date(generated_at.astimezone(UTC))
    doc.set_lang(i18n.current_language())
    doc.add_page()
    doc.set_font(FAMILY, "", BODY)
    _header(doc, records, clock, generated_at, prescriber)
    _safety(doc, records, clock)
    _protocols(doc, records, clock)
    _adherence(doc, records, generated_at)
    _questionnaires(doc, records, clock)
    _doses(doc, records, clock)
    _sessions(doc, records, clock)
    _ledger(doc, records, clock)
    return bytes(doc.output())
