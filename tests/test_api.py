"""The admin JSON API: validation of every kind of bad request, models, activation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
import socketio
from adminkit import (
    close_app,
    frame_jpeg,
    hang_up,
    login,
    login_requests,
    settings,
    wait_for,
)
from modelkit import register
from serverkit import LiveServer

from webapp import create_app
from webapp.admin.runparams import validate_params
from webapp.admin.runstore import RunStore


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    register(folder, "default")
    register(folder, "other", seed=1)
    # A corrupt model: garbage bytes under a valid name, with valid metadata beside it.
    (folder / "broken.keras").write_bytes(b"\x00garbage, not a keras archive" * 100)
    meta = json.loads((folder / "default.json").read_text())
    (folder / "broken.json").write_text(json.dumps(dict(meta, name="broken")))
    return folder


@pytest.fixture
def app(make_admin_app):
    return make_admin_app()


@pytest.fixture
def admin(app):
    """A logged-in test client whose mutating requests carry the CSRF token."""
    client = app.test_client()
    token = login(client)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory, models_dir):
    """One app for the requests that must be refused (each test checks nothing changed)."""
    app = create_app(settings(tmp_path_factory.mktemp("shared"), models_dir))
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def shared_admin(shared_app):
    client = shared_app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    return client


def _no_run_started(app) -> None:
    assert app.extensions["signlive.jobs"].store.count() == 0
    assert app.extensions["signlive.jobs"].current() is None


# --- POST /api/runs: every bad body is a 400 naming the problem, and starts nothing ----------

BAD_RUNS = [
    ({"arch": "cnn", "epochs": True}, "epochs"),            # a bool is not an integer
    ({"arch": "cnn", "epochs": "5"}, "epochs"),
    ({"arch": "cnn", "epochs": 2.5}, "epochs"),
    ({"arch": "cnn", "epochs": 0}, "epochs"),
    ({"arch": "cnn", "epochs": 501}, "epochs"),
    ({"arch": "cnn", "epochs": None}, "epochs"),
    ({"arch": "cnn", "batch_size": 4}, "batch_size"),
    ({"arch": "cnn", "batch_size": False}, "batch_size"),
    ({"arch": "cnn", "learning_rate": 0}, "learning_rate"),
    ({"arch": "cnn", "learning_rate": 5}, "learning_rate"),
    ({"arch": "cnn", "learning_rate": "0.01"}, "learning_rate"),
    ({"arch": "cnn", "learning_rate": True}, "learning_rate"),
    ({"arch": "cnn", "augment": "yes"}, "augment"),
    ({"arch": "cnn", "augment": 1}, "augment"),
    ({"arch": "vgg"}, "arch"),
    ({"arch": ["cnn"]}, "arch"),
    ({"arch": "cnn", "name": "../../etc/passwd"}, "name"),
    ({"arch": "cnn", "name": "model.keras"}, "name"),
    ({"arch": "cnn", "name": 7}, "name"),
    ({"arch": "cnn", "early_stopping": -1}, "early_stopping"),
    ({"arch": "cnn", "negatives": "lots"}, "negatives"),
    ({"arch": "cnn", "negatives": 1.5}, "negatives"),
    ({"arch": "cnn", "negatives": True}, "negatives"),
    ({"arch": "cnn", "train_on": "webcam"}, "train_on"),
    ({"arch": "cnn", "train_on": 1}, "train_on"),
    ({"arch": "cnn", "train_on": None}, "train_on"),
    ({"arch": "cnn", "train_on": "photos", "crop": "face"}, "crop"),
    ({"arch": "cnn", "crop": ["hand"]}, "crop"),
    ({"arch": "cnn", "train_on": "photos", "split": "photos-v999"}, "split"),
    ({"arch": "cnn", "split": "../photos-v1"}, "split"),
    ({"arch": "cnn", "split": 1}, "split"),
    ({"arch": "cnn", "input_size": 4}, "input_size"),
    ({"arch": "cnn", "input_size": 513}, "input_size"),
    ({"arch": "cnn", "input_size": "28"}, "input_size"),
    ({"arch": "cnn", "input_size": 28.0}, "input_size"),
    ({"arch": "cnn", "input_size": True}, "input_size"),
    ({"arch": "cnn", "photos_dir": "/etc"}, "photos_dir"),  # the server's folder, not a field
    ({"arch": "cnn", "gpu": 1}, "gpu"),                     # unknown field
    ({"arch": "cnn", "limit": -5}, "limit"),
]


@pytest.mark.parametrize(("body", "field"), BAD_RUNS)
def test_bad_run_parameters_are_refused_naming_the_field(shared_admin, shared_app, body, field):
    app = shared_app
    response = shared_admin.post("/api/runs", json=body)
    assert response.status_code == 400
    data = response.get_json()
    assert data["field"] == field and data["error"].startswith(field), data
    _no_run_started(app)


@pytest.mark.parametrize(("data", "content_type", "status", "message"), [
    ("{not json", "application/json", 400, "malformed JSON"),
    ('{"arch": "cnn",}', "application/json", 400, "malformed JSON"),
    ("[1, 2]", "application/json", 400, "JSON object"),
    ('"cnn"', "application/json", 400, "JSON object"),
    ("", "application/json", 400, "JSON object"),
    (b"\xff\xfe{}", "application/json", 400, "malformed JSON"),
    ("[" * 100_000 + "]" * 100_000, "application/json", 413, "too large"),
    ('{"arch": "cnn"}', "text/plain", 400, "Content-Type"),
    ('{"arch": "' + "x" * 70_000 + '"}', "application/json", 413, "too large"),
])
def test_malformed_and_oversized_bodies_get_json_errors(shared_admin, shared_app, data,
                                                        content_type, status, message):
    app = shared_app
    response = shared_admin.post("/api/runs", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.is_json and message in response.get_json()["error"]
    _no_run_started(app)


def test_deeply_nested_json_is_refused(shared_admin, shared_app):
    app = shared_app
    body = "[" * 5000 + "]" * 5000
    response = shared_admin.post("/api/runs", data=body, content_type="application/json")
    assert response.status_code == 400
    _no_run_started(app)


def test_limit_is_a_test_only_field(make_admin_app):
    app = make_admin_app(TESTING=False, ALLOW_TRAIN_LIMIT=False)
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    response = client.post("/api/runs", json={"arch": "cnn", "limit": 300})
    assert response.status_code == 400 and response.get_json()["field"] == "limit"
    _no_run_started(app)


def test_missing_data_is_a_clear_400(make_admin_app, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    app = make_admin_app(DATA_DIR=str(empty))
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    summary = client.get("/api/data").get_json()
    assert summary["ok"] is False and summary["message"]
    response = client.post("/api/runs", json={"arch": "cnn", "epochs": 1})
    assert response.status_code == 400
    assert response.get_json()["field"] == "data"
    _no_run_started(app)


def test_missing_photos_are_a_clear_400_when_a_run_reads_them(make_admin_app, tmp_path):
    empty = tmp_path / "no-photos"
    (empty / "A").mkdir(parents=True)  # a letter folder, but no photo in it
    app = make_admin_app(PHOTOS_DIR=str(empty))
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    status = client.get("/api/data").get_json()
    assert status["ok"] is True  # the Sign MNIST status is unchanged beside it
    assert status["photos"]["ok"] is False and "no photos" in status["photos"]["message"]
    for train_on in ("photos", "both"):
        response = client.post("/api/runs", json={"arch": "cnn", "train_on": train_on})
        assert response.status_code == 400, train_on
        data = response.get_json()
        assert data["field"] == "photos" and str(empty) in data["error"]
    _no_run_started(app)


def test_a_photos_run_does_not_need_sign_mnist_but_both_does(make_admin_app, tmp_path):
    no_csv = tmp_path / "no-data"
    no_csv.mkdir()
    app = make_admin_app(DATA_DIR=str(no_csv), PHOTOS_DIR=str(tmp_path / "missing"))
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    for train_on, field in (("csv", "data"), ("both", "data"), ("photos", "photos")):
        response = client.post("/api/runs", json={"arch": "cnn", "train_on": train_on})
        assert response.status_code == 400 and response.get_json()["field"] == field, train_on
    assert "photo folder not found" in client.get("/api/data").get_json()["photos"]["message"]
    _no_run_started(app)


def test_parameters_default_and_validate():
    params = validate_params({"arch": "cnn", "epochs": 3, "learning_rate": 1})
    assert params == {"arch": "cnn", "epochs": 3, "batch_size": 128, "early_stopping": 0,
                      "learning_rate": 1.0, "augment": True, "negatives": 0.1, "name": None,
                      "train_on": "csv", "crop": "hand", "split": "photos-v1", "input_size": 28}
    assert validate_params({"name": "  "}, default_limit=300)["limit"] == 300
    photos = validate_params({"train_on": "photos", "crop": "guide", "input_size": 64})
    assert (photos["train_on"], photos["crop"], photos["input_size"]) == ("photos", "guide", 64)


# --- routes, ids, methods -----------------------------------------------------------------

def test_unknown_routes_methods_and_ids_are_json(shared_admin):
    admin = shared_admin
    assert admin.get("/api/nope").status_code == 404
    assert admin.get("/api/nope").get_json()["error"].startswith("no API route")
    assert admin.get("/api/runs/999").status_code == 404
    assert admin.get("/api/runs/abc").status_code == 404
    assert admin.post("/api/runs/999/cancel").status_code == 404
    response = admin.delete("/api/runs")
    assert response.status_code == 405 and response.is_json
    assert admin.put("/api/models").status_code == 405
    for query in ("limit=0", "limit=abc", "limit=100000", "offset=-1"):
        response = admin.get(f"/api/runs?{query}")
        assert response.status_code == 400 and response.is_json, query


def test_run_list_and_detail(admin, app):
    store: RunStore = app.extensions["signlive.jobs"].store
    params = validate_params({"arch": "resnet", "epochs": 2})
    run_id = store.create("r1", params)
    store.set_running(run_id)
    store.append_epoch(run_id, {"epoch": 1, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.6,
                                "val_accuracy": 0.7, "seconds": 2.0})
    store.finish(run_id, "succeeded", test_accuracy=0.91, device="CPU", model_name="r1",
                 per_class={"A": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3}},
                 confusion=[[3]])
    listing = admin.get("/api/runs").get_json()
    assert listing["total"] == 1 and listing["active"] is None
    row = listing["runs"][0]
    assert row["status"] == "succeeded" and row["epochs_done"] == 1
    assert "confusion" not in row and "epochs" not in row  # the list stays light
    assert row["trained_on"] == "Sign MNIST"
    detail = admin.get(f"/api/runs/{run_id}").get_json()
    assert detail["epochs"][0]["val_accuracy"] == 0.7 and detail["confusion"] == [[3]]
    assert detail["params"]["arch"] == "resnet" and detail["params"]["input_size"] == 28
    assert detail["trained_on"] == "Sign MNIST"
    # A photo run says what it read; a run recorded before these fields read Sign MNIST.
    photo_id = store.create("p1", validate_params({"arch": "cnn", "train_on": "both",
                                                   "crop": "guide", "input_size": 48}))
    old_id = store.create("old", {"arch": "cnn", "epochs": 1})
    runs = {r["id"]: r for r in admin.get("/api/runs").get_json()["runs"]}
    assert runs[photo_id]["trained_on"] == "Sign MNIST + photos (guide crop, split photos-v1)"
    assert runs[photo_id]["params"]["input_size"] == 48
    assert runs[old_id]["trained_on"] == "Sign MNIST"
    assert admin.get(f"/api/runs/{photo_id}").get_json()["trained_on"].startswith("Sign MNIST +")
    # Not in progress: nothing to cancel.
    response = admin.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 409 and "succeeded" in response.get_json()["error"]


# --- models --------------------------------------------------------------------------------

def test_models_list_marks_the_active_one(admin):
    data = admin.get("/api/models").get_json()
    assert data["active"] == "default"
    names = {m["name"]: m for m in data["models"]}
    assert set(names) >= {"default", "other", "broken"}
    assert names["default"]["active"] and not names["other"]["active"]
    assert names["default"]["protected"] and names["other"]["arch"] == "tiny"
    assert names["other"]["size"] > 0 and names["other"]["created"]
    assert "history" not in names["other"] and "confusion" not in names["other"]


def test_activation_persists_across_a_restart(admin, app, make_admin_app):
    response = admin.post("/api/models/other/activate")
    assert response.status_code == 200
    assert response.get_json() == {"active": "other", "previous": "default"}
    assert app.extensions["signlive"].model_name == "other"
    assert (Path(app.instance_path) / "active_model").read_text().strip() == "other"
    assert admin.get("/api/models").get_json()["active"] == "other"
    restarted = make_admin_app()
    assert restarted.extensions["signlive"].model_name == "other"


def test_bad_activations_change_nothing(admin, app):
    served = app.extensions["signlive"]
    refused = admin.post("/api/models/broken/activate")
    assert refused.status_code == 422
    message = refused.get_json()["error"]
    assert "broken" in message and "'default' keeps serving" in message
    assert str(Path(app.config["MODELS_DIR"]).resolve()) not in message  # no server paths
    assert admin.post("/api/models/missing/activate").status_code == 404
    assert admin.post("/api/models/..%2Fdefault/activate").status_code in (400, 404)
    assert admin.post("/api/models/a..b/activate").status_code == 400
    assert served.model_name == "default"
    assert not (Path(app.instance_path) / "active_model").exists()


def test_delete_refuses_the_active_and_the_shipped_model(admin, app, models_dir, tmp_path):
    assert admin.delete("/api/models/default").status_code == 409
    admin.post("/api/models/other/activate")
    response = admin.delete("/api/models/other")
    assert response.status_code == 409 and "active" in response.get_json()["error"]
    assert admin.delete("/api/models/missing").status_code == 404
    assert admin.delete("/api/models/a..b").status_code == 400
    # A copy that is neither active nor shipped goes, both files.
    for suffix in (".keras", ".json"):
        shutil.copy(models_dir / f"other{suffix}", models_dir / f"spare{suffix}")
    assert admin.delete("/api/models/spare").status_code == 200
    assert not (models_dir / "spare.keras").exists()
    assert not (models_dir / "spare.json").exists()
    assert (models_dir / "other.keras").exists()


# --- activation seen from a live client ------------------------------------------------------

def test_live_clients_keep_their_connection_across_a_swap(app):
    with LiveServer(app) as server:
        http = requests.Session()
        token = login_requests(http, server.url)
        answers: list[dict] = []
        announced: list[dict] = []
        live = socketio.Client(reconnection=False)
        live.on("prediction", answers.append, namespace="/live")
        live.on("model", announced.append, namespace="/live")
        live.connect(server.url, namespaces=["/live"], transports=["websocket"], wait_timeout=10)
        try:
            sid = live.get_sid("/live")
            live.emit("frame", {"id": 1, "image": frame_jpeg(1)}, namespace="/live")
            wait_for(lambda: answers, 30, "the first prediction")
            assert answers[-1]["model"] == "default"

            # A corrupt model is refused; the client keeps the old model.
            refused = http.post(f"{server.url}/api/models/broken/activate",
                                headers={"X-CSRFToken": token})
            assert refused.status_code == 422
            live.emit("frame", {"id": 2, "image": frame_jpeg(2)}, namespace="/live")
            wait_for(lambda: any(a["id"] == 2 for a in answers), 30, "prediction 2")
            assert answers[-1]["model"] == "default"

            response = http.post(f"{server.url}/api/models/other/activate",
                                 headers={"X-CSRFToken": token})
            assert response.status_code == 200
            wait_for(lambda: any(m.get("name") == "other" for m in announced), 10,
                     "the model announcement")
            live.emit("frame", {"id": 3, "image": frame_jpeg(3)}, namespace="/live")
            wait_for(lambda: any(a["id"] == 3 for a in answers), 30, "prediction 3")
            assert answers[-1]["model"] == "other"
            assert live.connected and live.get_sid("/live") == sid
        finally:
            hang_up(live)
