"""Sites (supervisors): commission a camera by drawing its site file on a frame of its footage.

Pick a site to edit (its zones are drawn on the frame) or start a new one, pick a footage file from
the footage folder or upload a frame, draw the lanes, the centreline and the zones on the canvas
(`streamlit-drawable-canvas`), set the hours, bank holidays, exempt classes and thresholds, then
preview what the batch would decide on that footage and save. The decisions are in
review_app.services.sites; this page only renders.

Pictures of the camera go to the browser inline (the canvas's background and the preview as data:
URIs, the preview video through the player component's blob: URL), never at a /media/ URL that
would serve them without a session.
"""

from __future__ import annotations

import base64
import html
import secrets
import tempfile
from datetime import date
from pathlib import Path

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from pipeline.footage import FootageError
from pipeline.site import VEHICLE_CLASSES, WEEKDAYS, SiteConfig, Thresholds
from pipeline.site_preview import render_mp4, render_png
from review_app.components.player import player
from review_app.services import sites
from review_app.views.common import Ctx, show_flash

NEW = "New site"
FRAME, UPLOAD = "A frame of the footage", "An uploaded frame"
K = "site-"  # prefix of this page's widget keys
THRESHOLDS = {  # the form's threshold fields: label, and whether it may be left empty
    "min_seconds_in_lane": ("Seconds in the lane, at least", False),
    "min_distance_share": ("Distance along the lane, share of the centreline", False),
    "rider_min_speed_share_s": ("Rider speed, lane lengths a second", False),
    "min_distance_px": ("Distance in pixels instead (optional)", True),
    "min_distance_m": ("Distance in metres instead (optional, calibrated sites)", True),
    "rider_min_speed_px_s": ("Rider speed in pixels a second instead (optional)", True),
}
START_SOURCES = ("cli", "sidecar", "filename")


def render(ctx: Ctx) -> None:
    st.title("Sites")
    show_flash()
    if not ctx.user.is_supervisor:
        st.warning("Only a supervisor can set up camera sites.")
        return
    config = ctx.config
    after_save = st.session_state.setdefault(K + "after-save", {})  # see _save
    if "open" in after_save:  # a save names the site to open on the next run (kept until it is opened)
        st.session_state.pop(K + "loaded-name", None)
        st.session_state[K + "choice"] = after_save["open"]
        del after_save["open"]
    left, middle, right = st.columns((2, 2, 3))
    choice = left.selectbox("Site", [NEW, *sites.list_sites(config.sites_dir)], key=K + "choice",
                            help=f"site files in {config.sites_dir}")
    loaded = _open(config.sites_dir, choice)
    saved, notice = after_save.get("saved"), st.container()  # always there: the canvas keeps its place
    if saved and loaded is not None and saved[0] == loaded.name:
        # Shown while the saved site stays open: the new canvas's own re-runs would wipe a one-run message.
        notice.success(saved[1])
    clips = sites.list_footage(config.footage_dir)
    clip = middle.selectbox("Footage", clips, index=0 if clips else None, key=K + "footage",
                           placeholder=f"no footage in {config.footage_dir}", help=f"files in {config.footage_dir}")
    source = right.radio("Draw on", (FRAME, UPLOAD), horizontal=True, key=K + "source")
    where, what = st.columns((1, 3))
    frame = _frame(where, config.footage_dir, clip, source)
    if frame is not None and loaded is not None and (other := sites.other_size(loaded.site, frame)):
        where.warning(other)
    # Every widget below is drawn on every run, with or without a frame: Streamlit forgets the values
    # of widgets a run leaves out.
    geometry = _canvas(what, frame) if frame is not None else None
    if frame is None:
        st.session_state.pop(K + "mounted", None)  # Streamlit drops a canvas a run leaves out
    form = _form()
    name = st.text_input("Site file name", key=K + "name", placeholder="e.g. high_street_northbound",
                         help=f"saved as {config.sites_dir}/NAME.yaml; the previous version is kept in "
                              f"{config.sites_dir}/{sites.HISTORY}/")
    settings = None
    if geometry is not None:
        try:
            settings = sites.site_dict(loaded.settings if loaded else {}, form, geometry)
        except sites.SiteError as e:
            st.error(str(e))
    if st.button("Validate and save", type="primary", key=K + "save", disabled=settings is None):
        _save(ctx, name, settings, loaded)
    _preview(config.footage_dir, clip, settings)


def _open(sites_dir: Path, choice: str) -> sites.Loaded | None:
    """The site chosen, loaded once per choice: the form is filled from it and its zones drawn."""
    if st.session_state.get(K + "loaded-name") != choice:
        loaded = None
        if choice != NEW:
            try:
                loaded = sites.load(sites_dir, choice)
            except sites.SiteError as e:
                st.error(str(e))
        _fill_form(sites.form_from_site(loaded.site) if loaded else sites.SiteForm(),
                   loaded.name if loaded else "")
        st.session_state[K + "loaded"] = loaded
        st.session_state[K + "loaded-name"] = choice
        st.session_state[K + "latest"] = sites.geometry_of(loaded.site) if loaded else None
        st.session_state[K + "generation"] = st.session_state.get(K + "generation", 0) + 1  # a fresh canvas
        st.session_state.pop(K + "preview", None)  # the open site's previews
    return st.session_state[K + "loaded"]


def _frame(where, footage_dir: Path, clip: str | None, source: str):
    try:
        if source == UPLOAD:
            upload = where.file_uploader("Frame (PNG or JPEG, at the camera's own resolution)", type=["png", "jpg", "jpeg"],
                                      key=K + "upload")
            if upload is None:
                st.info("Upload a frame from the camera to draw on.")
                return None
            return sites.read_frame(upload.name, upload.getvalue())
        if clip is None:
            st.info(f"Put the camera's footage in {footage_dir}, or upload a frame.")
            return None
        second = where.number_input("Frame at second", min_value=0.0, value=0.0, step=1.0, key=K + "second")
        path = sites.footage_path(footage_dir, clip)
        return _footage_frame(str(path), path.stat().st_mtime_ns, second)
    except (sites.SiteError, FootageError) as e:
        st.error(str(e))
        return None


@st.cache_data(max_entries=4, show_spinner=False)
def _footage_frame(path: str, mtime_ns: int, second: float):
    """Decoded once, not on every rerun of the page (the file's mtime keys a replaced file)."""
    return sites.frame_at(Path(path), second)


def _canvas(what, frame) -> dict | None:
    """The drawing canvas over the frame; returns the site's geometry in frame pixels (None if unreadable).

    A canvas starts from what was last drawn (or the site opened), kept in frame pixels: a new frame
    size, or coming back from a run without a frame, keeps the drawing. While it is shown its initial
    drawing stays the same (the component reloads on any change of it)."""
    height, width = frame.shape[:2]
    canvas = sites.canvas_for(width, height)
    state = st.session_state
    key = f"{K}canvas-{state[K + 'generation']}-{width}x{height}"
    if state.get(K + "mounted") != key:
        state[K + "mounted"], state[K + "initial"] = key, state.get(K + "latest")
    labels = {layer.label: layer for layer in sites.LAYERS}
    layer = labels[what.radio("Draw", tuple(labels), horizontal=True, key=K + "layer")]
    how = ("Drag the centreline in the direction of travel; lines drawn one after another make a bent one."
           if layer.mode == "line" else f"Click the {layer.label.lower()}'s corners, then its first corner again to close it.")
    what.caption(f"{how} The toolbar's edit toggle moves or deletes a shape. "
                 f"Frame {width}x{height}, shown at {canvas.width}x{canvas.height}.")
    result = st_canvas(
        fill_color=layer.fill, stroke_width=sites.STROKE_WIDTH, stroke_color=layer.colour,
        background_image=sites.frame_png(frame), width=canvas.width, height=canvas.height,
        drawing_mode=layer.mode,
        initial_drawing=sites.site_to_drawing(state[K + "initial"], canvas) if state[K + "initial"] else None,
        key=key,  # new for each site opened and frame size
    )
    try:
        geometry = sites.drawing_to_geometry(result.json_data, canvas)
    except sites.SiteError as e:
        st.error(str(e))
        return None
    state[K + "latest"] = geometry
    st.caption(f"Drawn: lanes {len(geometry['lanes'])} · centreline points {len(geometry['centreline'])} · "
               f"exemption zones {len(geometry['exemption_zones'])} · ignore zones {len(geometry['ignore_zones'])}")
    return geometry


def _fill_form(form: sites.SiteForm, name: str) -> None:
    """Put a site's values into the form's widgets (before they are drawn on this run)."""
    state = st.session_state
    state[K + "name"], state[K + "camera_id"], state[K + "location"] = name, form.camera_id, form.location
    state[K + "any-time"] = form.at_any_time
    for day in WEEKDAYS:
        state[K + "day-" + day] = form.day_windows.get(day, "")
    this_year = date.today().year
    years = sorted({d.year for d in form.treat_as_sunday} or {this_year, this_year + 1})
    state[K + "years"] = state[K + "years-shown"] = years
    # A new site starts with every bank holiday of those years.
    state[K + "holidays"] = sorted(form.treat_as_sunday) if name else list(sites.bank_holidays(years))
    state[K + "no-enforcement"] = form.no_enforcement
    state[K + "classes"] = list(form.exempt_classes)
    for key in THRESHOLDS:
        state[K + "t-" + key] = form.thresholds.get(key)
    state[K + "start-source"] = form.start_source
    state[K + "start-pattern"], state[K + "start-format"] = form.start_pattern, form.start_format


def _years_changed() -> None:
    state = st.session_state
    state[K + "holidays"] = sites.follow_years(state[K + "holidays"], state[K + "years-shown"], state[K + "years"])
    state[K + "years-shown"] = state[K + "years"]


def _form() -> sites.SiteForm:
    st.subheader("Camera, hours and rules")
    left, right = st.columns(2)
    camera_id = left.text_input("Camera id", key=K + "camera_id", placeholder="e.g. HIGH-ST-NB-01")
    location = right.text_input("Location", key=K + "location", placeholder="street, direction, landmark")
    at_any_time = st.checkbox("In force at any time", key=K + "any-time")
    st.caption("Hours in force on each weekday, e.g. 07:00-10:00, 16:00-19:00 (empty: not in force that day).")
    day_windows = {day: column.text_input(day.capitalize(), key=K + "day-" + day, disabled=at_any_time)
                   for day, column in zip(WEEKDAYS, st.columns(len(WEEKDAYS)))}
    left, right = st.columns((1, 3))
    this_year = date.today().year
    chosen_years = st.session_state.get(K + "years", [])
    years = left.multiselect("Bank holiday years", sorted({*range(this_year - 1, this_year + 4), *chosen_years}),
                             key=K + "years", on_change=_years_changed)
    chosen = st.session_state.get(K + "holidays", [])
    names = sites.bank_holidays({*years, *(d.year for d in chosen)})
    treat_as_sunday = right.multiselect(
        "Treated as Sundays: England and Wales bank holidays", sorted({*names, *chosen}), key=K + "holidays",
        format_func=lambda d: f"{d:%a %d %b %Y} {names.get(d, '(not a bank holiday)')}")
    no_enforcement = st.text_input("No enforcement on (e.g. road works): dates as YYYY-MM-DD, comma separated",
                                   key=K + "no-enforcement")
    exempt = st.multiselect("Exempt vehicle classes", VEHICLE_CLASSES, key=K + "classes")
    thresholds = {}
    for column, (key, (label, optional)) in zip(st.columns(3) * 2, THRESHOLDS.items()):
        # The value is the one _fill_form put in the session ("min" only says no default of its own).
        thresholds[key] = column.number_input(label, min_value=0.0, value=None if optional else "min",
                                              step=0.005 if "share" in key else 0.5, format="%.3f",
                                              key=K + "t-" + key, help=Thresholds.model_fields[key].description)
    left, middle, right = st.columns(3)
    source = left.selectbox("Start time of each file from", START_SOURCES, key=K + "start-source",
                            format_func={"cli": "the command line (--start)", "sidecar": "a sidecar FILE.json",
                                         "filename": "the file name"}.get)
    pattern = middle.text_input("File name pattern (regex with a group ts)", key=K + "start-pattern")
    fmt = right.text_input("Its time format (strptime)", key=K + "start-format")
    return sites.SiteForm(camera_id, location, at_any_time, day_windows, list(treat_as_sunday), no_enforcement,
                          list(exempt), thresholds, source, pattern, fmt)


def _checked(settings: dict) -> SiteConfig | None:
    site = sites.validate(settings)
    if isinstance(site, list):
        st.error("Not valid: nothing saved.\n\n" + "\n".join(f"- **{p.field}**: {p.message}" for p in site))
        return None
    return site


def _save(ctx: Ctx, name: str, settings: dict, loaded: sites.Loaded | None) -> None:
    if _checked(settings) is None:
        return
    after = st.session_state[K + "after-save"]  # fetched before the write: see below
    try:
        saved = sites.save_site(ctx.store, ctx.config.sites_dir, name, settings, ctx.user.name,
                                loaded.sha256 if loaded and loaded.name == name.strip().removesuffix(".yaml") else None)
    except sites.SiteError as e:
        st.error(f"Not saved: {e}")
        return
    kept = f"; the previous version is kept as {saved.previous.name}" if saved.previous else ""
    # Into the dict the session holds, not through st.session_state: once the file is written, a
    # re-run asked for meanwhile (see _preview) must not drop the confirmation and the site to open.
    after.update(saved=(saved.path.stem, f"Saved {saved.path} (sha256 {saved.sha256}){kept}."), open=saved.path.stem)
    st.rerun()


def _preview(footage_dir: Path, clip: str | None, settings: dict | None) -> None:
    st.subheader("Preview on the footage")
    st.caption("The batch's own detector, tracker and lane rules on the footage around the frame above: lanes green, "
               "centreline yellow, exemption zones blue, ignore zones grey; boxes red for a contravention, orange for "
               "a lane passage that is not one.")
    left, middle, right = st.columns(3)
    start = left.text_input("Footage start, if the site takes it from the command line", key=K + "preview-start",
                            placeholder="2026-11-21T07:00:00")
    seconds = middle.slider("Video seconds", 2, 10, 5, key=K + "preview-seconds")
    plain = right.checkbox("Frame on grey, without the footage (for documents)", key=K + "preview-plain")
    frame_button, video_button = st.columns(2)
    ready = clip is not None and settings is not None  # a footage file, and a site drawn
    wants_frame = frame_button.button("Preview this frame", key=K + "preview-frame", disabled=not ready)
    wants_video = video_button.button("Preview video", key=K + "preview-video", disabled=not ready)
    # Held by the session before any work: a re-run asked for while the preview is made (the canvas
    # reporting its drawing) stops this run at its next element or session-state access, so the
    # result goes into this dict, which needs neither.
    previews = st.session_state.setdefault(K + "preview", {"shown": None, "id": ""})
    if wants_frame or wants_video:
        site = _checked(settings)
        if site is None:
            return
        if site.start_time.source == "cli" and not start.strip():
            st.error("This site takes each file's start time from the command line: type the footage's start above.")
            return
        try:
            footage, when = sites.footage_path(footage_dir, clip), sites.parse_start(start)
            second = st.session_state.get(K + "second")  # the frame drawn on (None: an uploaded frame)
            with st.spinner("Analysing the footage as the batch would..."):
                shown = (_video(site, footage, second or 0.0, seconds, when) if wants_video else
                         render_png(site, footage, second, start=when, plain=plain))
                previews.update(shown=shown, id=secrets.token_hex(4))  # a new player for each, on any site
        except (sites.SiteError, FootageError) as e:
            st.error(str(e))
            return
    shown = previews["shown"]
    if isinstance(shown, bytes):
        data = base64.b64encode(shown).decode("ascii")
        st.html(f'<img src="data:image/png;base64,{data}" style="max-width:100%" alt="{html.escape(clip or "footage")} preview">')
    elif shown:
        player(shown.mp4, f"site preview {previews['id']}", shown.fps, shown.first_frame,
               shown.aspect)
        st.markdown("\n".join(f"- {line}" for line in shown.passages) or "No lane passages in the excerpt.")


def _video(site: SiteConfig, footage: Path, second: float, seconds: float, when) -> sites.PreviewVideo:
    with tempfile.TemporaryDirectory(prefix="buslane-site-preview-") as tmp:
        out = Path(tmp) / "preview.mp4"
        passages = render_mp4(site, footage, out, second, seconds, when)
        return sites.preview_video(out, second, passages)
