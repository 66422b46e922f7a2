"""One case: the review copy, stills, plate read and lane facts, and the officer's actions.

The decision bar sits beside the player so that a case is decided without scrolling, and every
action has a key (the legend is on the page): V validates (a clear case in one key), R opens the
reject reasons and 1-9 rejects with that reason at once (two keys), P puts the cursor in the plate
box, F flags a permitted vehicle (its reason picked, 1-9 picks another, its category and plate still
to fill: Enter confirms), N and B go to the next and previous case; Space and the arrows drive the
player. Enter confirms a reject only once a reason is picked (with the mouse, or for a flag) and
does nothing before. Keys typed into a text box stay there: Enter or Esc leaves the box; after P
they are the plate's until then, even if the page re-draws the box. No form submits on Enter.

Widget keys carry the case id, so the inputs start empty when the next case opens; the buttons the
shortcuts press have fixed keys (streamlit-shortcuts finds them by key), a digit's among them: one
hidden button per reason.
"""

from __future__ import annotations

import base64
import html
import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_shortcuts import add_shortcuts

from evidence.pack.builder import PackError, build_pack, default_file_name
from pipeline.plates.types import NOT_UK, is_foreign
from pipeline.reasons import REASONS
from review_app.components.download import Download, download_button
from review_app.components.player import player
from review_app.services import appeals, corrections, decisions, gaps
from review_app.services.cases import Case, history, load_case, record_view, review_timing
from review_app.services.queue import neighbour, next_pending
from review_app.views.common import Ctx, flash, show_flash
from review_app.views.signin import signed_in_fetch

# streamlit-shortcuts 1.2.2, the latest, injects its script with components.v1.html, which Streamlit
# 1.67 logs as deprecated (in favour of st.iframe) on every run of this page. Drop just that line
# from the log; if Streamlit removes the function, add_shortcuts fails and the keyboard test with it.
logging.getLogger("streamlit.deprecation_util").addFilter(lambda r: "components.v1.html" not in r.getMessage())

# The reject reasons' digits, in the order the panel lists them: each presses its hidden button.
REASON_KEYS = {f"reason-key-{n}": code for n, code in enumerate(REASONS, 1)}
# The buttons and boxes the keys press, by widget or container key.
SHORTCUTS = {"validate": "v", "reject-start": "r", "platebox": "p", "flag-start": "f", "case-next": "n",
             "case-prev": "b", "reject-confirm": "enter", **{key: key.rsplit("-", 1)[1] for key in REASON_KEYS}}
LEGEND = ("`V` validate · `R` reject, then `1`-`9` rejects with that reason · `Enter` confirms a reason picked "
          "with the mouse · `P` plate box (`Enter`/`Esc` leaves it) · `F` flag permitted vehicle (category, plate, "
          "`Enter`) · `N`/`B` next/previous case · `Space` play/pause · `←`/`→` one frame")
# What streamlit-shortcuts does not do: leave keys typed into a text box alone (they would otherwise
# also press V, R, 1...; Enter or Esc leaves the box). And after P, the keys are the plate's until
# Enter, Esc, Tab or a click, even if the box loses the cursor (the page re-draws it while a run
# finishes): they go on into the box, so a plate's V, R or digit never decides a case and its Enter
# never confirms a reason picked earlier.
_KEYS_JS = """<script>
const doc = window.parent.document, win = window.parent;
const typing = (t) => t && (t.isContentEditable || t.tagName === "TEXTAREA" ||
  (t.tagName === "INPUT" && !["radio", "checkbox", "button"].includes(t.type)));
const LEAVE = ["Enter", "Escape", "Tab"];  // keys that end the plate's keys
const into = (box, value) => {  // as if typed: React keeps the value the input event reports
  Object.getOwnPropertyDescriptor(box.ownerDocument.defaultView.HTMLInputElement.prototype, "value")
    .set.call(box, value);
  box.dispatchEvent(new Event("input", {bubbles: true}));
};
if (win.__buslaneKeys) doc.body.removeEventListener("keydown", win.__buslaneKeys);
win.__buslaneKeys = (e) => {
  if (typing(e.target)) {  // the box has had the key; the shortcuts listen above, on the document
    if (LEAVE.includes(e.key)) win.__buslanePlate = false;
    if (e.key === "Enter" || e.key === "Escape") e.target.blur();
    e.stopPropagation();
    return;
  }
  const mods = e.ctrlKey || e.altKey || e.metaKey;
  if (!win.__buslanePlate) {
    win.__buslanePlate = !mods && e.key.toLowerCase() === "p";  // the shortcuts then focus the box
    return;
  }
  const box = doc.querySelector(".st-key-platebox input");
  if (!box || mods) { win.__buslanePlate = false; return; }
  e.preventDefault();
  e.stopPropagation();
  if (LEAVE.includes(e.key)) { win.__buslanePlate = false; return; }
  box.focus();
  if (e.key.length === 1) into(box, box.value + e.key);
  else if (e.key === "Backspace") into(box, box.value.slice(0, -1));
};
doc.body.addEventListener("keydown", win.__buslaneKeys);
if (!win.__buslaneClick) {
  win.__buslaneClick = () => { win.__buslanePlate = false; };
  doc.addEventListener("mousedown", win.__buslaneClick, true);
}
</script>"""
# Room for the decision bar beside the player at 1366x768; the digits' buttons are pressed by key only.
_COMPACT_CSS = ("<style>.block-container {padding-top: 2.5rem; padding-bottom: 1rem}"
                " h1 {padding: 0 0 .25rem; font-size: 1.75rem !important}"
                ' [data-testid="stMetricValue"] {font-size: 1.25rem} .st-key-reason-keys {display: none}</style>')


def render(ctx: Ctx) -> None:
    case_id = st.session_state.get("case_id") or next_pending(ctx.store)
    if case_id is None:
        show_flash()
        st.info("No pending cases: the queue is empty.")
        return
    case = load_case(ctx.store, case_id, ctx.config.evidence_root)
    if case is None:
        st.error(f"No case {case_id}.")
        return
    st.session_state["case_id"] = case.id
    if st.session_state.get("viewed") != case.id:  # once per opening, not on every rerun
        record_view(ctx.store, case.id, ctx.user.name)
        st.session_state["viewed"] = case.id
    st.html(_COMPACT_CSS)
    st.title(f"Case {case.id}")
    left, right = st.columns([3, 2])
    with left:  # first and always in the same place, so that the player is never re-created
        _evidence(case)
    with right:
        show_flash()
        _summary(case)
        if case.status == "pending":
            _actions(ctx, case)
        elif ctx.user.is_supervisor and case.status in decisions.DECIDED:
            _reopen_form(ctx, case)
        _moves(ctx, case)
        _plate(ctx, case)
    _stills(case)
    _passage(case)
    if case.status == "validated":
        _pack(ctx, case)
    _appeal(ctx, case)
    _flag_form(ctx, case)
    _history(ctx, case)
    add_shortcuts(**SHORTCUTS)
    st.html(_KEYS_JS, unsafe_allow_javascript=True)


def _summary(case: Case) -> None:
    a, b, c = st.columns([2, 3, 2])
    a.metric("Status", case.status)
    b.metric("Deadline", case.due() if case.status == "pending" else "-")
    c.metric("Plate", case.plate or "(no read)")
    decided = f" · {case.decided()}" if case.decided_at else ""
    st.caption(f"{case.camera_id} · {case.location or ''} · seen {case.local(case.first_seen)} to "
               f"{case.local(case.last_seen)} · review by {case.local(case.review_deadline)}{decided}")
    if case.status == "pending" and case.days_left() < 0:
        st.error(f"Overdue: {case.due()}.")


def _evidence(case: Case) -> None:
    ev = case.evidence
    if ev.problem:
        st.error(f"Evidence refused: {ev.problem}")
    elif ev.deleted:
        st.warning(f"Evidence {ev.deleted}.")
    elif ev.review is None:
        st.warning(f"Evidence not yet written for this case (looked in {ev.folder}).")
    else:
        timing = review_timing(ev)
        player(ev.review.read_bytes(), case.id, timing.fps if timing else 25.0, timing.first_frame if timing else 0)
        if timing is None:
            st.caption("The review copy's frame rate is not recorded: frame numbers assume 25 fps.")


# Stills go inline as data: URIs, so no /media/ URL outlives the session (st.image would make one);
# a click on a still toggles it full screen (CSS only: st.html runs no script).
_ZOOM_CSS = """<style>
.still input {display: none}
.still img {width: 100%; cursor: zoom-in}
.still input:checked + img {position: fixed; inset: 0; width: 100vw; height: 100vh; object-fit: contain;
  background: #000; z-index: 100000; cursor: zoom-out}
</style>"""


def _still_html(png: bytes, caption: str, width: str = "100%") -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<label class="still" style="display:block;max-width:{width}"><input type="checkbox">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(caption)}"></label>'
            f'<div style="font-size:0.8em;opacity:0.7">{html.escape(caption)}</div>')


def _stills(case: Case) -> None:
    """The PNG stills as written (data bar legible); click one to see it full screen."""
    ev = case.evidence
    stills = [(p, label) for p, label in ((ev.overview, "Overview"), (ev.closeup, "Close-up")) if p]
    for column, (path, label) in zip(st.columns(max(1, len(stills))), stills):
        with column:
            st.html(_ZOOM_CSS + _still_html(path.read_bytes(), f"{label} (click to zoom)"))
    if ev.closeup is None and case.plate_crop:
        st.html(_ZOOM_CSS + _still_html(case.plate_crop, "Plate crop (from the plate reader)", "240px"))


def _plate(ctx: Ctx, case: Case) -> None:
    if case.plate_keyed_by:
        read = f"keyed in by {case.plate_keyed_by} at {case.local(case.plate_keyed_at)}"
    else:
        confidence = f"{case.plate_confidence:.0%}" if case.plate_confidence is not None else "-"
        read = f"confidence {confidence} · {case.plate_status or 'not read'} · {case.plate_reads or 0} reads"
    st.markdown(f"**Plate {case.plate or '(no read)'}** · {read} · format {case.plate_format or '-'}")
    if case.plate_country:
        country = f"Country {case.plate_country} ({case.plate_country_confidence or 0:.0%})"
        if is_foreign(case.plate_country):
            st.warning(f"{country}: {NOT_UK}")
        else:
            st.caption(country)
    offered = corrections.choices(case.plate, case.plate_status, case.plate_alternatives)
    if offered and case.status == "pending":
        st.caption("The reader was not sure. Pick what the plate shows, or type it in the plate box:")
        for column, choice in zip(st.columns(len(offered)), offered):
            column.button(f"{choice.text} ({choice.reads} reads)", key=f"pick-{case.id}-{choice.text}",
                          on_click=_pick, args=(ctx, case, choice.text))
    elif case.plate_alternatives:
        st.caption("Alternatives: " + ", ".join(map(_alternative, case.plate_alternatives)))
    if case.whitelist_near_miss:
        st.warning(case.whitelist_near_miss)
    if case.whitelist_entry:
        st.info(f"Whitelisted: {case.whitelist_entry}")
    for repeat in case.repeats:
        st.warning(f"{repeat.text()}: one passage gets one notice.")
        st.button(f"Open case {repeat.case_id}", key=f"repeat-{repeat.case_id}", on_click=_open, args=(repeat.case_id,))
    st.caption(f"Whitelist version {case.whitelist_version}" if case.whitelist_version is not None
               else "No whitelist checked")


def _alternative(alt: object) -> str:
    """'AB12CDE (3 reads)' from the reader's {"text", "reads", "score"}; anything else as it is."""
    if isinstance(alt, dict) and "text" in alt:
        return f"{alt['text']} ({alt['reads']} reads)" if alt.get("reads") else str(alt["text"])
    return str(alt)


def _passage(case: Case) -> None:
    st.subheader("Lane passage")
    st.markdown(
        f"- **{case.travelled()}**\n"
        f"- hours in force: {case.in_force or 'not recorded'}\n"
        f"- {case.reason}\n"
        f"- {case.vehicle_class}, frames {case.first_frame}-{case.last_frame} of `{case.footage}`\n"
        f"- class votes: {', '.join(f'{c} {share:.0%}' for c, share in case.class_votes.items()) or 'not recorded'}"
    )


# Actions run as widget callbacks, before the next script run: a press is handled even when the
# case has meanwhile been decided by someone else and its widgets are no longer drawn.

def _decided(ctx: Ctx, case: Case, outcome: decisions.Outcome) -> None:
    """After a decision, open the next case; after a refusal, stay and say why."""
    if outcome.ok:
        flash("success", outcome.message)
        st.session_state["case_id"] = next_pending(ctx.store, after=case.id)
    else:
        flash("error", outcome.message)
        if outcome.confirm:  # ask for that whitelist entry or earlier case by name, for the plate in the box
            st.session_state[f"confirm-{case.id}"] = outcome.confirm


def _validate(ctx: Ctx, case: Case, confirmed: str | None = None) -> None:
    typed = st.session_state.get(f"plate-{case.id}") or None
    _decided(ctx, case, decisions.validate(ctx.store, case.id, ctx.user, typed, confirmed=confirmed))


def _start_reject(case: Case, flag: bool = False) -> None:
    state = st.session_state
    state[f"rejecting-{case.id}"] = True
    if flag:  # F: a permitted vehicle, rejected with a whitelist gap flag (the reason is the one F means)
        state[f"reason-{case.id}"], state[f"flag-{case.id}"] = "permitted_not_whitelisted", True


def _reject(ctx: Ctx, case: Case) -> None:
    state, key = st.session_state, case.id
    reason, note = state.get(f"reason-{key}"), state.get(f"note-{key}")
    if reason is None:  # Enter before a reason: nothing to confirm
        flash("error", "pick a reason (1-9) before confirming the reject")
        return
    gap = decisions.GapFlag(state.get(f"reject-plate-{key}") or "", state.get(f"reject-category-{key}") or "",
                            note) if state.get(f"flag-{key}") else None
    _decided(ctx, case, decisions.reject(ctx.store, case.id, ctx.user, reason, note, gap))


def _reason_key(ctx: Ctx, case: Case, reason: str) -> None:
    """A reason's digit: the reject is recorded at once, unless a flag still needs its category and
    plate (then the digit only picks the reason, and Enter confirms)."""
    st.session_state[f"reason-{case.id}"] = reason
    if not st.session_state.get(f"flag-{case.id}"):
        _reject(ctx, case)


def _correct(ctx: Ctx, case: Case) -> None:
    _corrected(corrections.correct_plate(ctx.store, case.id, ctx.user, st.session_state.get(f"plate-{case.id}") or ""))


def _pick(ctx: Ctx, case: Case, text: str) -> None:
    _corrected(corrections.pick_alternative(ctx.store, case.id, ctx.user, text))


def _corrected(result: corrections.Correction) -> None:
    flash("error" if not result.ok else "warning" if result.whitelisted else "success",
          result.message + (" - consider rejecting as 'On the whitelist'" if result.whitelisted else ""))


def _open(case_id: str) -> None:
    st.session_state["case_id"] = case_id


def _move(ctx: Ctx, case: Case, step: int) -> None:
    other = neighbour(ctx.store, case.id, step)
    if other is None:
        flash("info", f"no {'next' if step > 0 else 'previous'} pending case in the queue")
    else:
        st.session_state["case_id"] = other


def _reopen(ctx: Ctx, case: Case) -> None:
    outcome = decisions.reopen(ctx.store, case.id, ctx.user, st.session_state[f"reopen-note-{case.id}"])
    flash("success" if outcome.ok else "error", outcome.message)


def _flag(ctx: Ctx, case: Case) -> None:
    key = case.id
    outcome = gaps.flag(ctx.store, case.id, ctx.user, st.session_state[f"gap-plate-{key}"],
                        st.session_state[f"gap-category-{key}"] or "", st.session_state[f"gap-note-{key}"])
    flash("success" if outcome.ok else "error", outcome.message)


def _actions(ctx: Ctx, case: Case) -> None:
    """The decision bar. Buttons, not forms: nothing is decided by Enter in a text box."""
    key, on = case.id, {"args": (ctx, case)}
    with st.container(key="platebox"):
        st.text_input("Plate box (P): key in or correct the plate; Validate uses it", key=f"plate-{key}",
                      placeholder=case.plate or "no plate read: key it in")
    validate_col, reject_col, flag_col = st.columns(3)
    validate_col.button("Validate (V)", type="primary", key="validate", on_click=_validate, width="stretch", **on)
    reject_col.button("Reject (R)", key="reject-start", on_click=_start_reject, args=(case,), width="stretch")
    flag_col.button("Flag (F)", key="flag-start", on_click=_start_reject, args=(case, True), width="stretch",
                    help="A permitted vehicle missing from the whitelist: reject it with a gap flag")
    confirm = st.session_state.get(f"confirm-{key}")
    if confirm:
        st.warning(f"To validate, confirm: {confirm}.")
        st.button(f"Validate anyway, confirming: {confirm}", key="validate-confirm", on_click=_validate,
                  args=(ctx, case, confirm))
    if st.session_state.get(f"rejecting-{key}"):
        _reject_panel(ctx, case)


def _reject_panel(ctx: Ctx, case: Case) -> None:
    key = case.id
    with st.container(key="reasons", border=True):
        codes = list(REASONS)
        st.radio("Reject: reason (1-9)", codes, index=None, key=f"reason-{key}",
                 format_func=lambda c: f"{codes.index(c) + 1} · {REASONS[c]}")
        st.text_input("Note (required for Other; also kept with a flag)", key=f"note-{key}")
        st.checkbox("Also flag it as a permitted vehicle missing from the whitelist", key=f"flag-{key}")
        if st.session_state.get(f"flag-{key}"):
            a, b = st.columns(2)
            a.selectbox("Vehicle category", gaps.CATEGORIES, index=None, key=f"reject-category-{key}")
            b.text_input("Plate to flag", value=case.plate or "", key=f"reject-plate-{key}")
        chosen = st.session_state.get(f"reason-{key}")
        st.button("Confirm reject (Enter)", key="reject-confirm", type="primary", disabled=chosen is None,
                  on_click=_reject, args=(ctx, case))
    with st.container(key="reason-keys"):  # hidden (_COMPACT_CSS): the digits press them
        for button, reason in REASON_KEYS.items():
            st.button(f"Reject: {REASONS[reason]}", key=button, on_click=_reason_key,
                      args=(ctx, case, reason))


def _moves(ctx: Ctx, case: Case) -> None:
    correct, back, forward = st.columns(3)
    if case.status == "pending":
        correct.button("Correct plate", key="correct-plate", on_click=_correct, args=(ctx, case), width="stretch",
                       help="Correct the plate to the plate box's, without deciding")
    back.button("Previous (B)", key="case-prev", on_click=_move, args=(ctx, case, -1), width="stretch")
    forward.button("Next (N)", key="case-next", on_click=_move, args=(ctx, case, 1), width="stretch")
    st.caption(LEGEND)


def _reopen_form(ctx: Ctx, case: Case) -> None:
    with st.form(f"reopen-{case.id}", enter_to_submit=False):
        st.text_input("Reopen: why (supervisor)", key=f"reopen-note-{case.id}")
        st.form_submit_button("Reopen case", on_click=_reopen, args=(ctx, case))


def _make_pack(ctx: Ctx, case: Case) -> None:
    """Build the pack (recorded, and audited as exported by this officer) and keep it for the download button."""
    with tempfile.TemporaryDirectory(prefix="buslane-pack-") as tmp:
        try:
            result = build_pack(ctx.store, case.id, case.evidence.root, ctx.user.name,
                                Path(tmp) / default_file_name(case.id))
        except PackError as e:
            flash("error", str(e))
            return
        st.session_state[f"pack-{case.id}"] = (result, result.path.read_bytes())
    flash("success", f"Evidence pack {result.pack_id} made and recorded; zip sha256 {result.zip_sha256}")


def _pack(ctx: Ctx, case: Case) -> None:
    """Validated cases only. Two steps, so that a refusal (e.g. altered evidence) is shown, not a failed download."""
    st.subheader("Evidence pack for appeal")
    made = st.session_state.get(f"pack-{case.id}")
    st.button("Make a new evidence pack" if made else "Make evidence pack", key=f"make-pack-{case.id}",
              on_click=_make_pack, args=(ctx, case))
    if made:
        result, data = made
        # The zip goes to this signed-in page over its websocket, never to a /media/ URL.
        download_button(f"Download evidence pack ({len(data) / 1e6:.1f} MB)", f"pack-zip-{case.id}",
                        signed_in_fetch(ctx, lambda: Download(data, result.file_name, "application/zip")))
        st.caption(f"Pack {result.pack_id}, made {case.local(result.created_at)} by {result.created_by}; "
                   f"zip sha256 {result.zip_sha256}")


def _change_hold(ctx: Ctx, case: Case, held: bool) -> None:
    change = appeals.release if held else appeals.hold
    outcome = change(ctx.store, case.id, ctx.user, st.session_state[f"appeal-reason-{case.id}"])
    flash("success" if outcome.ok else "error", outcome.message)


def _appeal(ctx: Ctx, case: Case) -> None:
    """Everyone sees a hold; supervisors place and release it (retention never deletes a held case)."""
    current = appeals.status(ctx.store, case.id)
    held = bool(current and current.held)
    if held:
        st.info(f"Held for appeal by {current.actor} since {case.local(current.at)}: {current.reason}")
    if not ctx.user.is_supervisor:
        return
    with st.form(f"appeal-{case.id}", enter_to_submit=False):
        st.text_input("Appeal reference or reason (supervisor)", key=f"appeal-reason-{case.id}")
        st.form_submit_button("Release appeal hold" if held else "Hold for appeal", on_click=_change_hold,
                              args=(ctx, case, held))


def _flag_form(ctx: Ctx, case: Case) -> None:
    with (st.expander("Flag a permitted vehicle missing from the whitelist (without deciding the case)"),
          st.form(f"gap-{case.id}", enter_to_submit=False)):
        st.text_input("Plate", value=case.plate or "", key=f"gap-plate-{case.id}")
        st.selectbox("Category", gaps.CATEGORIES, index=None, key=f"gap-category-{case.id}")
        st.text_input("Note (operator, what was seen)", key=f"gap-note-{case.id}")
        st.form_submit_button("Flag", on_click=_flag, args=(ctx, case))


def _history(ctx: Ctx, case: Case) -> None:
    entries = history(ctx.store, case.id)
    if entries:
        st.subheader("History")
        st.dataframe(pd.DataFrame({"When": [case.local(e.at) for e in entries],
                                   "Officer": [e.officer for e in entries],
                                   "What": [e.what for e in entries]}),
                     hide_index=True, width="stretch", key=f"history-{case.id}")
