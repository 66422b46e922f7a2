"""One case: the review copy, stills, plate read and lane facts, and the officer's actions.

Widget keys carry the case id, so the forms start empty when the next case opens.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from evidence.pack.builder import PackError, build_pack, default_file_name
from review_app.services import appeals, corrections, decisions, gaps
from review_app.services.cases import Case, history, load_case, record_view
from review_app.services.queue import next_pending
from pipeline.plates.types import NOT_UK, is_foreign
from review_app.views.common import Ctx, flash, show_flash


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
    st.title(f"Case {case.id}")
    show_flash()
    _summary(case)
    left, right = st.columns([3, 2])
    with left:
        _evidence(case)
    with right:
        _plate(ctx, case)
        _passage(case)
    if case.status == "pending":
        _actions(ctx, case)
    elif ctx.user.is_supervisor and case.status in decisions.DECIDED:
        _reopen_form(ctx, case)
    if case.status == "validated":
        _pack(ctx, case)
    _appeal(ctx, case)
    _flag_form(ctx, case)
    _history(ctx, case)


def _summary(case: Case) -> None:
    days = case.days_left()
    a, b, c, d = st.columns([1, 1, 1, 2])
    a.metric("Status", case.status)
    b.metric("Days left", days if case.status == "pending" else "-")
    c.metric("Plate", case.plate or "(no read)")
    d.metric("Camera", case.camera_id)
    st.caption(f"{case.location or ''} · seen {case.local(case.first_seen)} to {case.local(case.last_seen)} · "
               f"review by {case.local(case.review_deadline)}")
    if case.status == "pending" and days < 0:
        st.error(f"Overdue by {-days} day(s).")
    elif case.status == "pending" and days <= 2:
        st.warning(f"Due soon: {days} day(s) left.")


def _evidence(case: Case) -> None:
    ev = case.evidence
    if ev.problem:
        st.error(f"Evidence refused: {ev.problem}")
    elif ev.deleted:
        st.warning(f"Evidence {ev.deleted}.")
    elif ev.review is None:
        st.warning(f"Evidence not yet written for this case (looked in {ev.folder}).")
    else:
        st.video(str(ev.review), autoplay=True, muted=True, loop=True)
    stills = [(p, label) for p, label in ((ev.overview, "Overview"), (ev.closeup, "Close-up")) if p]
    for column, (path, label) in zip(st.columns(max(1, len(stills))), stills):
        column.image(str(path), caption=label)
    if ev.closeup is None and case.plate_crop:
        st.image(case.plate_crop, caption="Plate crop (from the plate reader)", width=240)


def _plate(ctx: Ctx, case: Case) -> None:
    st.subheader("Plate read")
    confidence = f"{case.plate_confidence:.0%}" if case.plate_confidence is not None else "-"
    st.markdown(
        f"**{case.plate or '(no read)'}** · confidence {confidence} · {case.plate_status or 'not read'}"
        f" · format {case.plate_format or '-'} · {case.plate_reads or 0} reads"
    )
    if case.plate_country:
        country = f"Country {case.plate_country} ({case.plate_country_confidence or 0:.0%})"
        if is_foreign(case.plate_country):
            st.warning(f"{country}: {NOT_UK}")
        else:
            st.caption(country)
    offered = corrections.choices(case.plate, case.plate_status, case.plate_alternatives)
    if offered and case.status == "pending":
        st.caption("The reader was not sure. Pick what the plate shows, or type it below:")
        for column, choice in zip(st.columns(len(offered)), offered):
            column.button(f"{choice.text} ({choice.reads} reads)", key=f"pick-{case.id}-{choice.text}",
                          on_click=_pick, args=(ctx, case, choice.text))
    elif case.plate_alternatives:
        st.caption("Alternatives: " + ", ".join(map(_alternative, case.plate_alternatives)))
    if case.whitelist_near_miss:
        st.warning(case.whitelist_near_miss)
    if case.whitelist_entry:
        st.info(f"Whitelisted: {case.whitelist_entry}")
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
        f"- **{case.seconds_in_lane:.1f} s** in the lane, **{case.distance_px:.0f} px** along it\n"
        f"- hours in force: {case.in_force or 'not recorded'}\n"
        f"- {case.reason}\n"
        f"- {case.vehicle_class}, frames {case.first_frame}-{case.last_frame} of `{case.footage}`\n"
        f"- class votes: {', '.join(f'{c} {share:.0%}' for c, share in case.class_votes.items()) or 'not recorded'}"
    )


# Actions run as widget callbacks, before the next script run: a submit is handled even when the
# case has meanwhile been decided by someone else and its forms are no longer drawn.

def _decided(ctx: Ctx, case: Case, outcome: decisions.Outcome) -> None:
    """After a decision, open the next case; after a refusal, stay and say why."""
    if outcome.ok:
        flash("success", outcome.message)
        st.session_state["case_id"] = next_pending(ctx.store, after=case.id)
    else:
        flash("error", outcome.message)


def _validate(ctx: Ctx, case: Case) -> None:
    _decided(ctx, case, decisions.validate(ctx.store, case.id, ctx.user))


def _reject(ctx: Ctx, case: Case) -> None:
    state, key = st.session_state, case.id
    note = state[f"note-{key}"]
    gap = decisions.GapFlag(state[f"reject-plate-{key}"], state[f"reject-category-{key}"], note) \
        if state[f"flag-{key}"] else None
    _decided(ctx, case, decisions.reject(ctx.store, case.id, ctx.user, state[f"reason-{key}"], note, gap))


def _correct(ctx: Ctx, case: Case) -> None:
    _corrected(corrections.correct_plate(ctx.store, case.id, ctx.user, st.session_state[f"plate-{case.id}"]))


def _pick(ctx: Ctx, case: Case, text: str) -> None:
    _corrected(corrections.pick_alternative(ctx.store, case.id, ctx.user, text))


def _corrected(result: corrections.Correction) -> None:
    flash("error" if not result.ok else "warning" if result.whitelisted else "success",
          result.message + (" - consider rejecting as 'On the whitelist'" if result.whitelisted else ""))


def _reopen(ctx: Ctx, case: Case) -> None:
    outcome = decisions.reopen(ctx.store, case.id, ctx.user, st.session_state[f"reopen-note-{case.id}"])
    flash("success" if outcome.ok else "error", outcome.message)


def _flag(ctx: Ctx, case: Case) -> None:
    key = case.id
    outcome = gaps.flag(ctx.store, case.id, ctx.user, st.session_state[f"gap-plate-{key}"],
                        st.session_state[f"gap-category-{key}"], st.session_state[f"gap-note-{key}"])
    flash("success" if outcome.ok else "error", outcome.message)


def _actions(ctx: Ctx, case: Case) -> None:
    st.subheader("Decision")
    on = {"args": (ctx, case)}
    validate_col, reject_col, plate_col = st.columns([1, 3, 2])
    validate_col.button("Validate", type="primary", key=f"validate-{case.id}", on_click=_validate, **on)
    with reject_col.form(f"reject-{case.id}"):
        st.selectbox("Reject: reason", list(decisions.REASONS), format_func=decisions.REASONS.get,
                     key=f"reason-{case.id}")
        st.text_input("Note (required for Other; also kept with a flag)", key=f"note-{case.id}")
        st.checkbox("Also flag it as a permitted vehicle missing from the whitelist", key=f"flag-{case.id}")
        st.selectbox("Vehicle category", gaps.CATEGORIES, key=f"reject-category-{case.id}")
        st.text_input("Plate to flag", value=case.plate or "", key=f"reject-plate-{case.id}")
        st.form_submit_button("Reject", on_click=_reject, **on)
    with plate_col.form(f"correct-{case.id}"):
        st.text_input("Correct the plate", key=f"plate-{case.id}", placeholder="e.g. AB12 CDE")
        st.form_submit_button("Correct plate", on_click=_correct, **on)


def _reopen_form(ctx: Ctx, case: Case) -> None:
    with st.form(f"reopen-{case.id}"):
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
        st.download_button(f"Download evidence pack ({len(data) / 1e6:.1f} MB)", data, file_name=result.file_name,
                           mime="application/zip", key=f"pack-zip-{case.id}", on_click="ignore")
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
    with st.form(f"appeal-{case.id}"):
        st.text_input("Appeal reference or reason (supervisor)", key=f"appeal-reason-{case.id}")
        st.form_submit_button("Release appeal hold" if held else "Hold for appeal", on_click=_change_hold,
                              args=(ctx, case, held))


def _flag_form(ctx: Ctx, case: Case) -> None:
    with st.expander("Flag a permitted vehicle missing from the whitelist"), st.form(f"gap-{case.id}"):
        st.text_input("Plate", value=case.plate or "", key=f"gap-plate-{case.id}")
        st.selectbox("Category", gaps.CATEGORIES, key=f"gap-category-{case.id}")
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
