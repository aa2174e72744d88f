"""The public pages: `/` (live), `/kiosk`, and `/healthz` for load balancers and people.

The pages get their settings as `page_config`, which the templates dump as JSON into
`<script type="application/json" id="signlive-config">` (no inline JS, CSP-ready), so the
browser draws exactly the guide square the server crops, with the served model's crop fraction.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

bp = Blueprint("pages", __name__)

# Page behaviour; any of these can be overridden by the app config key in upper case.
PAGE_DEFAULTS = {
    "stable_ms": 500,  # a letter must stay on top this long to be spelled
    "fps_cap": 15,  # frames per second sent at most (one in flight at a time anyway)
    "idle_clear_s": 30,  # the kiosk clears its transcript after this long without a letter
    "max_side": 480,  # frames are downscaled to this longest side (guide square >= 224 px)
}


def page_config() -> dict:
    """The settings a live or kiosk page needs, from the app config and the served model."""
    state = current_app.extensions["signlive"]
    values = {key: current_app.config.get(key.upper(), default)
              for key, default in PAGE_DEFAULTS.items()}
    values.update(
        crop_fraction=state.inference.crop_fraction,
        confidence_threshold=float(current_app.config["CONFIDENCE_THRESHOLD"]),
        model_name=state.model_name,
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
    return jsonify(
        status="ok",
        model=state.model_name,
        device=state.device,
        uptime_s=round(state.uptime_s(), 1),
        clients=state.clients,
    )
