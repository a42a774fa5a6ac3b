/* TrocheLog offline gate: a line-for-line mirror of app/doses/rules.py for the phone.
 *
 * Plain script (no modules, no build step, no eval): load it with
 *   <script src="/static/offline-gate.js"></script>
 * and use window.TrocheGate. The server stays the judge: a dose or gate logged offline is
 * re-evaluated by the Python rules when it syncs. This file only lets the phone give the same
 * verdict while it has no connection.
 *
 * Kept identical to the Python rules by tests/doses/gate_corpus.json, a corpus of
 * (policy, history, answers, now, proposal, state) cases whose expected results come from
 * rules.py (regenerate with `python -m tests.doses.make_gate_corpus`):
 *   tests/doses/test_gate_corpus.py    runs every case through rules.py;
 *   tests/browser/test_gate_corpus.py  runs every case through this file in Chromium.
 * Change a rule in both places and regenerate the corpus, or CI fails.
 *
 * Inputs (the JSON of GET /api/v1/today, see fromToday below):
 *   snapshot  body.protocol.rules: min_hours_between_doses, max_mg_per_24h, max_mg_per_7d
 *             (decimal strings), bp_hold_systolic, bp_hold_diastolic, pulse_hold_low|null,
 *             pulse_hold_high|null, emergency_lockout_hours (ints), sitter_required (bool),
 *             required_checklist, overridable_holds (lists of names). Other keys are ignored.
 *             The crisis threshold (180/120), the 5-minute recheck and the never-overridable
 *             codes are fixed in rules.py, so they are constants here too (the browser test
 *             checks they equal the Python ones).
 *   history   [{taken_at, dose_mg}]: body.recent_doses plus any dose logged on the phone since
 *             (entered-in-error doses excluded), in any order.
 *   answers   {systolic, diastolic, heart_rate (positive ints), checklist: {item: true|false}};
 *             only an answer that is exactly `true` counts as yes.
 *   nowIso    the instant of the proposed dose.
 *   proposedMg
 *   state     body.safety_state: {review_pending: bool, last_emergency_at: iso|null,
 *             screener_pending: bool, screener_pending_since: iso|null}; null means none. A crisis reading taken on the phone
 *             since the snapshot must be folded in (noteEmergency) or the offline lockout would
 *             start late; so must a screen (noteReview) and a PHQ-9 or screener (noteScreener).
 *
 * Conventions (the same as rules.py):
 *   - Times are ISO 8601 strings and must carry an offset (Z or +hh:mm); a naive time throws.
 *     Instants are compared as integer epoch MICROseconds, the server's resolution: a Number
 *     holds them exactly for the years 1685 to 2255 (outside, we throw rather than round). Times
 *     the phone makes itself (Date) have millisecond resolution; that is only the precision of
 *     its inputs, the arithmetic is exact. Times in params are UTC, formatted like Python's
 *     datetime.isoformat() ("2026-03-01T12:00:00+00:00", ".ffffff" only when non-zero).
 *   - mg amounts are decimal strings (or numbers) with at most 2 decimal places (the database's
 *     Numeric(8, 2)) and are summed as integer hundredths, so totals never round; more places
 *     throw. min_hours_between_doses may have up to 6 places (exact in microseconds).
 *   - mg and hours in params are canonical decimal strings: "200", "12.5", "0.01".
 *   - Bad input throws (TypeError / RangeError), like the Python ValueError/TypeError. A caller
 *     must treat a throw as "cannot clear this dose offline", never as OK.
 *
 * evaluateGate returns {verdict: "ok"|"hold"|"emergency", reasons: [{code, params}]} with the
 * reasons in this order: bp_emergency, bp_hold, pulse_hold, safety_review, screener_pending,
 * recent_emergency, too_soon, over_24h_max, over_7d_max, sitter_required, checklist_failed (bp_hold omitted when
 * bp_emergency fires). Params per code:
 *   bp_emergency      {systolic, diastolic, crisis_systolic, crisis_diastolic}
 *   bp_hold           {systolic, diastolic, hold_systolic, hold_diastolic}
 *   pulse_hold        {heart_rate, low, high}
 *   safety_review     {}
 *   screener_pending  {}
 *   recent_emergency  {at, until}
 *   too_soon          {hours, next_allowed_at, conflicting_at: [iso...]}
 *   over_24h_max, over_7d_max  {limit_mg, total_mg}
 *   sitter_required   {}
 *   checklist_failed  {items: [...] in CHECKLIST_ITEMS order}
 */
(function (root) {
  'use strict';

  var CHECKLIST_ITEMS = ['fasted', 'no_sedatives', 'no_driving', 'safe_place', 'sitter_present'];
  var SITTER_ITEM = 'sitter_present';
  var CRISIS_SYSTOLIC = 180;
  var CRISIS_DIASTOLIC = 120;
  var EMERGENCY_RECHECK_MINUTES = 5;
  var NEVER_OVERRIDABLE = ['bp_emergency', 'over_24h_max', 'over_7d_max', 'recent_emergency',
    'safety_review', 'screener_pending', 'too_soon'];
  var OVERRIDABLE_CHOICES = ['bp_hold', 'pulse_hold', 'sitter_required', 'checklist_failed'];
  var REASON_CODES = ['bp_emergency', 'bp_hold', 'pulse_hold', 'safety_review',
    'screener_pending', 'recent_emergency', 'too_soon', 'over_24h_max', 'over_7d_max', 'sitter_required',
    'checklist_failed'];
  var VERDICTS = { OK: 'ok', HOLD: 'hold', EMERGENCY: 'emergency' };
  // The keys of body.protocol.rules this file reads.
  var SNAPSHOT_FIELDS = ['min_hours_between_doses', 'max_mg_per_24h', 'max_mg_per_7d',
    'bp_hold_systolic', 'bp_hold_diastolic', 'pulse_hold_low', 'pulse_hold_high',
    'emergency_lockout_hours', 'sitter_required', 'required_checklist', 'overridable_holds'];
  var STATE_FIELDS = ['review_pending', 'last_emergency_at', 'screener_pending',
    'screener_pending_since'];

  var US_PER_MS = 1000;
  var US_PER_MINUTE = 60 * 1000 * 1000;
  var US_PER_HOUR = 60 * US_PER_MINUTE;
  var DAY_US = 24 * US_PER_HOUR;
  var WEEK_US = 7 * DAY_US;
  var RECHECK_WAIT_US = EMERGENCY_RECHECK_MINUTES * US_PER_MINUTE;

  // --- instants (integer epoch microseconds) ------------------------------------------------

  var ISO = new RegExp(
    '^(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,6}))?)?' +
    '(Z|z|[+-]\\d{2}(?::?\\d{2}(?::?\\d{2})?)?)?$');

  function safe(value, name) {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(name + ' is out of the exactly representable range');
    }
    return value;
  }

  /** Epoch microseconds of an ISO 8601 string with an offset; throws on naive or bad input. */
  function toMicros(value, name) {
    if (typeof value !== 'string') throw new TypeError(name + ' must be an ISO 8601 string');
    var m = ISO.exec(value);
    if (!m) throw new RangeError(name + ' is not an ISO 8601 date-time: ' + value);
    if (!m[8]) throw new RangeError(name + ' must be timezone-aware: ' + value);
    var year = +m[1], month = +m[2], day = +m[3];
    var hour = +m[4], minute = +m[5], second = m[6] ? +m[6] : 0;
    var micro = m[7] ? +(m[7] + '000000').slice(0, 6) : 0;
    if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || year < 1) {
      throw new RangeError(name + ' has a field out of range: ' + value);
    }
    var date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, 0);
    if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) {
      throw new RangeError(name + ' is not a real date: ' + value);
    }
    var offset = 0;
    var zone = m[8];
    if (zone !== 'Z' && zone !== 'z') {
      var digits = zone.slice(1).replace(/:/g, '');
      var oh = +digits.slice(0, 2), om = +(digits.slice(2, 4) || 0), os = +(digits.slice(4, 6) || 0);
      if (oh > 23 || om > 59 || os > 59) throw new RangeError(name + ' has a bad offset: ' + value);
      offset = (zone.charAt(0) === '-' ? -1 : 1) * ((oh * 60 + om) * 60 + os) * 1000 * 1000;
    }
    return safe(date.getTime() * US_PER_MS + micro - offset, name);
  }

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = '0' + s;
    return s;
  }

  /** Epoch microseconds as UTC ISO 8601, exactly as Python's datetime.isoformat() writes it. */
  function isoFromMicros(us) {
    safe(us, 'instant');
    var ms = Math.floor(us / US_PER_MS);
    var date = new Date(ms);
    var micro = (ms - Math.floor(ms / 1000) * 1000) * 1000 + (us - ms * US_PER_MS);
    var text = pad(date.getUTCFullYear(), 4) + '-' + pad(date.getUTCMonth() + 1, 2) + '-' +
      pad(date.getUTCDate(), 2) + 'T' + pad(date.getUTCHours(), 2) + ':' +
      pad(date.getUTCMinutes(), 2) + ':' + pad(date.getUTCSeconds(), 2);
    if (micro) text += '.' + pad(micro, 6);
    return text + '+00:00';
  }

  // --- exact decimals (integer units of 10^-scale) ------------------------------------------

  var DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

  /** A non-negative decimal as an integer count of 10^-places; throws if it needs more places. */
  function toUnits(value, places, name) {
    var text;
    if (typeof value === 'number') {
      if (!isFinite(value)) throw new RangeError(name + ' must be finite, got ' + value);
      text = String(value);  // like Python's Decimal(str(float)): 12.5 -> "12.5"
    } else if (typeof value === 'string') {
      text = value.trim();
    } else {
      throw new TypeError(name + ' must be a decimal string or a number');
    }
    var m = DECIMAL.exec(text);
    if (!m || (m[2] === '' && !m[3])) throw new RangeError(name + ' is not a decimal: ' + value);
    var whole = m[2] || '0';
    var frac = (m[3] || '').replace(/0+$/, '');
    if (frac.length > places) {
      throw new RangeError(name + ' has more than ' + places + ' decimal places: ' + value);
    }
    var units = safe(+(whole + (frac + '000000000').slice(0, places)), name);
    if (m[1] === '-' && units !== 0) throw new RangeError(name + ' must be >= 0, got ' + value);
    return units;
  }

  /** Canonical decimal text of units of 10^-places: 20000,2 -> "200"; 1250,2 -> "12.5". */
  function unitsToString(units, places) {
    var scale = Math.pow(10, places);
    var whole = Math.floor(units / scale);
    var frac = pad(units - whole * scale, places).replace(/0+$/, '');
    return frac ? whole + '.' + frac : String(whole);
  }

  var MG_PLACES = 2;
  var HOUR_PLACES = 6;  // 10^-6 h = 3.6 ms: every such interval is a whole number of microseconds

  function mgUnits(value, name) { return toUnits(value, MG_PLACES, name); }

  // --- validation, as the Python dataclasses do on construction ------------------------------

  function isInt(value) { return typeof value === 'number' && Number.isInteger(value); }

  function positiveInt(value, name) {
    if (!isInt(value)) throw new TypeError(name + ' must be an int');
    if (value <= 0) throw new RangeError(name + ' must be > 0, got ' + value);
    return value;
  }

  function nameList(value, name) {
    if (!Array.isArray(value)) throw new TypeError(name + ' must be a list of names');
    return value.slice();
  }

  function readPolicy(snapshot) {
    if (!snapshot || typeof snapshot !== 'object') throw new TypeError('snapshot is required');
    var hours = toUnits(snapshot.min_hours_between_doses, HOUR_PLACES, 'min_hours_between_doses');
    var policy = {
      hoursUnits: hours,
      gapUs: safe(hours * (US_PER_HOUR / Math.pow(10, HOUR_PLACES)), 'min_hours_between_doses'),
      max24: mgUnits(snapshot.max_mg_per_24h, 'max_mg_per_24h'),
      max7d: mgUnits(snapshot.max_mg_per_7d, 'max_mg_per_7d'),
      holdSystolic: positiveInt(snapshot.bp_hold_systolic, 'bp_hold_systolic'),
      holdDiastolic: positiveInt(snapshot.bp_hold_diastolic, 'bp_hold_diastolic'),
      sitterRequired: snapshot.sitter_required,
      required: nameList(snapshot.required_checklist, 'required_checklist'),
      lockoutHours: positiveInt(snapshot.emergency_lockout_hours, 'emergency_lockout_hours'),
      pulseLow: snapshot.pulse_hold_low === undefined ? null : snapshot.pulse_hold_low,
      pulseHigh: snapshot.pulse_hold_high === undefined ? null : snapshot.pulse_hold_high,
      overridable: nameList(snapshot.overridable_holds || [], 'overridable_holds')
    };
    if (typeof policy.sitterRequired !== 'boolean') {
      throw new TypeError('sitter_required must be a bool');
    }
    policy.required.forEach(function (item) {
      if (CHECKLIST_ITEMS.indexOf(item) < 0 || item === SITTER_ITEM) {
        throw new RangeError('required_checklist has an unsupported item: ' + item);
      }
    });
    if (policy.pulseLow !== null) positiveInt(policy.pulseLow, 'pulse_hold_low');
    if (policy.pulseHigh !== null) positiveInt(policy.pulseHigh, 'pulse_hold_high');
    if (policy.pulseLow !== null && policy.pulseHigh !== null &&
        policy.pulseLow >= policy.pulseHigh) {
      throw new RangeError('pulse_hold_low must be below pulse_hold_high');
    }
    policy.overridable.forEach(function (code) {
      if (OVERRIDABLE_CHOICES.indexOf(code) < 0) {
        throw new RangeError('overridable_holds has an unsupported code: ' + code);
      }
    });
    return policy;
  }

  function readHistory(history) {
    if (!Array.isArray(history)) throw new TypeError('history must be a list of doses');
    var past = history.map(function (dose) {
      if (!dose || typeof dose !== 'object') throw new TypeError('history holds {taken_at, dose_mg}');
      return { at: toMicros(dose.taken_at, 'taken_at'), mg: mgUnits(dose.dose_mg, 'dose_mg') };
    });
    return past.sort(function (a, b) { return a.at - b.at; });
  }

  function readState(state) {
    if (state === null || state === undefined) {
      return { reviewPending: false, lastEmergency: null, screenerPending: false,
               screenerSince: null };
    }
    if (typeof state !== 'object') throw new TypeError('state must be an object');
    var review = state.review_pending === undefined ? false : state.review_pending;
    if (typeof review !== 'boolean') throw new TypeError('review_pending must be a bool');
    var screener = state.screener_pending === undefined ? false : state.screener_pending;
    if (typeof screener !== 'boolean') throw new TypeError('screener_pending must be a bool');
    var last = state.last_emergency_at;
    var since = state.screener_pending_since;
    return {
      reviewPending: review,
      lastEmergency: last === null || last === undefined ? null : toMicros(last, 'last_emergency_at'),
      screenerPending: screener,
      screenerSince: since === null || since === undefined ? null
        : toMicros(since, 'screener_pending_since')
    };
  }

  // A state read by readState, as body.safety_state gives it.
  function stateJson(s) {
    return { review_pending: s.reviewPending,
             last_emergency_at: s.lastEmergency === null ? null : isoFromMicros(s.lastEmergency),
             screener_pending: s.screenerPending,
             screener_pending_since: s.screenerSince === null ? null
               : isoFromMicros(s.screenerSince) };
  }

  function readAnswers(answers) {
    if (!answers || typeof answers !== 'object') throw new TypeError('answers are required');
    ['systolic', 'diastolic', 'heart_rate'].forEach(function (name) {
      positiveInt(answers[name], name);
    });
    var checklist = answers.checklist;
    if (!checklist || typeof checklist !== 'object') throw new TypeError('checklist is required');
    return answers;
  }

  function yes(checklist, item) {
    return Object.prototype.hasOwnProperty.call(checklist, item) && checklist[item] === true;
  }

  // --- the rules -----------------------------------------------------------------------------

  function nextFreeTime(times, start, gap) {
    // Earliest t >= start at least `gap` from every dose (see rules._next_free_time).
    var t = start;
    for (;;) {
      var furthest = null;
      for (var i = 0; i < times.length; i++) {
        if (Math.abs(times[i] - t) < gap && (furthest === null || times[i] > furthest)) {
          furthest = times[i];
        }
      }
      if (furthest === null) return t;
      t = safe(furthest + gap, 'next_allowed_at');
    }
  }

  function worstWindowTotal(past, at, mg, span) {
    // Largest total, this dose included, over windows (e - span, e] containing `at`: e = at or
    // any logged dose in [at, at + span) (see rules._worst_window_total).
    var ends = [at];
    past.forEach(function (d) { if (at <= d.at && d.at < at + span) ends.push(d.at); });
    var worst = null;
    ends.forEach(function (e) {
      var total = mg;
      past.forEach(function (d) { if (e - span < d.at && d.at <= e) total += d.mg; });
      safe(total, 'total_mg');
      if (worst === null || total > worst) worst = total;
    });
    return worst;
  }

  function limitReasons(policy, past, at, mg) {
    if (mg <= 0) throw new RangeError('dose_mg must be > 0');
    var reasons = [];
    var gap = policy.gapUs;
    var conflicts = past.filter(function (d) { return Math.abs(d.at - at) < gap; });
    if (conflicts.length) {
      reasons.push({ code: 'too_soon', params: {
        hours: unitsToString(policy.hoursUnits, HOUR_PLACES),
        next_allowed_at: isoFromMicros(nextFreeTime(past.map(function (d) { return d.at; }), at, gap)),
        conflicting_at: conflicts.map(function (d) { return isoFromMicros(d.at); })
      } });
    }
    [['over_24h_max', DAY_US, policy.max24], ['over_7d_max', WEEK_US, policy.max7d]]
      .forEach(function (rule) {
        var total = worstWindowTotal(past, at, mg, rule[1]);
        if (total > rule[2]) {
          reasons.push({ code: rule[0], params: {
            limit_mg: unitsToString(rule[2], MG_PLACES),
            total_mg: unitsToString(total, MG_PLACES)
          } });
        }
      });
    return reasons;
  }

  function holdReasons(policy, state, at) {
    var reasons = [];
    if (state.reviewPending) reasons.push({ code: 'safety_review', params: {} });
    if (state.screenerPending) reasons.push({ code: 'screener_pending', params: {} });
    if (state.lastEmergency !== null) {
      var last = state.lastEmergency;
      var until = safe(last + policy.lockoutHours * US_PER_HOUR, 'until');
      if (last <= at && at < until) {
        reasons.push({ code: 'recent_emergency',
          params: { at: isoFromMicros(last), until: isoFromMicros(until) } });
      }
    }
    return reasons;
  }

  /** Interval and rolling-maximum reasons against placing doseMg at takenAtIso (which may be in
   * the past: doses before and after it count). */
  function doseLimitReasons(snapshot, history, takenAtIso, doseMg) {
    var at = toMicros(takenAtIso, 'taken_at');
    var mg = mgUnits(doseMg, 'dose_mg');
    return limitReasons(readPolicy(snapshot), readHistory(history), at, mg);
  }

  /** safety_review while a review is pending, screener_pending while a PHQ-9 item 9 answer
   * awaits its screener; recent_emergency for last <= at < last + lockout. */
  function safetyHoldReasons(snapshot, state, atIso) {
    var at = toMicros(atIso, 'at');
    return holdReasons(readPolicy(snapshot), readState(state), at);
  }

  /** When a new reading may be taken, if atIso is within 5 minutes after the last crisis
   * reading; else null. */
  function emergencyRecheckAt(state, atIso) {
    var at = toMicros(atIso, 'at');
    var s = readState(state);
    if (s.lastEmergency === null) return null;
    var allowed = s.lastEmergency + RECHECK_WAIT_US;
    return at < allowed ? isoFromMicros(allowed) : null;
  }

  /** True when every reason (objects with .code, or codes) is one the prescriber lets the
   * patient override before dosing; no reasons: false. */
  function mayOverrideBeforeDosing(snapshot, reasons) {
    var overridable = readPolicy(snapshot).overridable;
    var codes = (reasons || []).map(function (r) { return typeof r === 'string' ? r : r.code; });
    if (!codes.length) return false;
    return codes.every(function (code) {
      return NEVER_OVERRIDABLE.indexOf(code) < 0 && overridable.indexOf(code) >= 0;
    });
  }

  /** The pre-dose gate for proposedMg at nowIso. */
  function evaluateGate(snapshot, history, answers, nowIso, proposedMg, state) {
    var policy = readPolicy(snapshot);
    var now = toMicros(nowIso, 'now');
    var past = readHistory(history);
    var a = readAnswers(answers);
    var s = readState(state);
    var mg = mgUnits(proposedMg, 'dose_mg');
    var reasons = [];
    var sys = a.systolic, dia = a.diastolic;

    var emergency = sys >= CRISIS_SYSTOLIC || dia >= CRISIS_DIASTOLIC;
    if (emergency) {
      reasons.push({ code: 'bp_emergency', params: { systolic: sys, diastolic: dia,
        crisis_systolic: CRISIS_SYSTOLIC, crisis_diastolic: CRISIS_DIASTOLIC } });
    } else if (sys >= policy.holdSystolic || dia >= policy.holdDiastolic) {
      reasons.push({ code: 'bp_hold', params: { systolic: sys, diastolic: dia,
        hold_systolic: policy.holdSystolic, hold_diastolic: policy.holdDiastolic } });
    }

    var pulse = a.heart_rate;
    if ((policy.pulseLow !== null && pulse < policy.pulseLow) ||
        (policy.pulseHigh !== null && pulse > policy.pulseHigh)) {
      reasons.push({ code: 'pulse_hold',
        params: { heart_rate: pulse, low: policy.pulseLow, high: policy.pulseHigh } });
    }

    reasons = reasons.concat(holdReasons(policy, s, now), limitReasons(policy, past, now, mg));

    if (policy.sitterRequired && !yes(a.checklist, SITTER_ITEM)) {
      reasons.push({ code: 'sitter_required', params: {} });
    }
    var failed = CHECKLIST_ITEMS.filter(function (item) {
      return policy.required.indexOf(item) >= 0 && !yes(a.checklist, item);
    });
    if (failed.length) reasons.push({ code: 'checklist_failed', params: { items: failed } });

    var verdict = emergency ? VERDICTS.EMERGENCY : (reasons.length ? VERDICTS.HOLD : VERDICTS.OK);
    return { verdict: verdict, reasons: reasons };
  }

  // --- glue for app.js -----------------------------------------------------------------------

  /** The gate's inputs from a GET /api/v1/today body: {snapshot, history, state}, or null when
   * there is no protocol (no gate to run). Doses logged on the phone since must be appended. */
  function fromToday(body) {
    if (!body || !body.protocol) return null;
    return {
      snapshot: body.protocol.rules,
      history: (body.recent_doses || []).slice(),
      state: body.safety_state || null
    };
  }

  /** The state with a crisis reading taken on the phone folded in (the later one wins). */
  function noteEmergency(state, atIso) {
    var s = readState(state);
    var at = toMicros(atIso, 'at');
    s.lastEmergency = s.lastEmergency === null || at > s.lastEmergency ? at : s.lastEmergency;
    return stateJson(s);
  }

  /** The state with a review pending: a screen on the phone the server would hold dosing for. */
  function noteReview(state) {
    var s = readState(state);
    s.reviewPending = true;
    return stateJson(s);
  }

  /** The state after a PHQ-9 answered on the phone at atIso with item 9 above 0 (pending:
   * true), or a screener answered at atIso (pending: false), as the server holds and clears:
   * a screener lifts the hold only if answered at or after the latest such answer, and a
   * hold whose answer's time the phone does not know stays (the careful side). */
  function noteScreener(state, pending, atIso) {
    var s = readState(state);
    var at = toMicros(atIso, 'at');
    if (pending === true) {
      s.screenerPending = true;
      s.screenerSince = s.screenerSince === null || at > s.screenerSince ? at : s.screenerSince;
    } else if (s.screenerPending && s.screenerSince !== null && at >= s.screenerSince) {
      s.screenerPending = false;
      s.screenerSince = null;
    }
    return stateJson(s);
  }

  root.TrocheGate = Object.freeze({
    evaluateGate: evaluateGate,
    doseLimitReasons: doseLimitReasons,
    safetyHoldReasons: safetyHoldReasons,
    emergencyRecheckAt: emergencyRecheckAt,
    mayOverrideBeforeDosing: mayOverrideBeforeDosing,
    fromToday: fromToday,
    noteEmergency: noteEmergency,
    noteReview: noteReview,
    noteScreener: noteScreener,
    CHECKLIST_ITEMS: Object.freeze(CHECKLIST_ITEMS.slice()),
    CRISIS_SYSTOLIC: CRISIS_SYSTOLIC,
    CRISIS_DIASTOLIC: CRISIS_DIASTOLIC,
    EMERGENCY_RECHECK_MINUTES: EMERGENCY_RECHECK_MINUTES,
    NEVER_OVERRIDABLE: Object.freeze(NEVER_OVERRIDABLE.slice()),
    OVERRIDABLE_CHOICES: Object.freeze(OVERRIDABLE_CHOICES.slice()),
    REASON_CODES: Object.freeze(REASON_CODES.slice()),
    SNAPSHOT_FIELDS: Object.freeze(SNAPSHOT_FIELDS.slice()),
    STATE_FIELDS: Object.freeze(STATE_FIELDS.slice()),
    VERDICTS: Object.freeze(VERDICTS)
  });
}(typeof window !== 'undefined' ? window : this));
