"""The public pages: `/` (live), `/kiosk`, and `/healthz` for load balancers and people.

The pages get their settings as `page_config`, which the templates dump as JSON into
`<script type="application/json" id="signlive-config">` (no inline JS, CSP-ready), so the
browser draws exactly the guide square the server crops, with the served model's crop fraction.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

bp = Blueprint("pages", __name__)

# Page behaviour, from the app config (defaults and SIGNLIVE_* overrides in config.py).
PAGE_SETTINGS = ("stable_ms", "fps_cap", "idle_clear_s", "max_side", "hand_locator", "overlap")


def page_config() -> dict:
    """The settings a live or kiosk page needs, from the app config and the served model."""
    state = current_app.extensions["signlive"]
    values = {key: current_app.config[key.upper()] for key in PAGE_SETTINGS}
    values.update(
        crop_fraction=state.inference.served.spec.crop_fraction,
        confidence_threshold=float(current_app.config["CONFIDENCE_THRESHOLD"]),
        model_name=state.model_name,
        motion=state.inference.motion is not None,  # J and Z are read (the how-to says how)
    )
    return values


@bp.get("/")
def live():
    return render_template("live.html", page_config=page_config())


@bp.get("/kiosk")
def kiosk():
    return render_template("kiosk.html", page_config=page_config())


@bp.get("/healthz")
def healthz():
    state = current_app.extensions["signlive"]
    spec = state.inference.served.spec
    return jsonify(
        status="ok",
        model=state.model_name,
        crop=spec.crop,  # "hand": frames' hand boxes are used; "guide": ignored
        handshape=spec.handshape is not None,  # the frames' landmarks are read too
        motion=state.inference.motion.name if state.inference.motion else None,  # J and Z
        device=state.device,
        uptime_s=round(state.uptime_s(), 1),
        clients=state.clients,
    )
