import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QSpinBox

from jobdeck.ui.launch_form import LaunchForm
from jobdeck.ui.param_fields import ArgvField, MappingField, PathField

from .fakes import COMMAND, HASH, field


@pytest.fixture
def hash_form(qtbot, tracker):
    form = LaunchForm(HASH, tracker)
    qtbot.addWidget(form)
    return form


def test_editors_match_the_param_kinds(hash_form):
    f = hash_form.fields
    assert isinstance(f["workers"].widget, QSpinBox)
    assert (f["workers"].widget.minimum(), f["workers"].widget.maximum()) == (1, 16)
    assert f["workers"].widget.value() == 2  # the default
    assert isinstance(f["ratio"].widget, QDoubleSpinBox)
    assert isinstance(f["algorithm"].widget, QComboBox)
    assert f["algorithm"].widget.currentText() == "sha256"
    assert f["folder"].browse_button.text() == "Browse\u2026"


def test_start_queues_a_job_with_typed_params(qtbot, tracker, hash_form):
    f = hash_form.fields
    f["folder"].edit.setText("/data/photos")
    f["workers"].widget.setValue(8)
    f["algorithm"].widget.setCurrentText("md5")
    f["sizes"].edit.setPlainText("1\n\n20\n")
    hash_form.title_edit.setText("Photos")
    with qtbot.waitSignal(hash_form.jobQueued) as blocker:
        qtbot.mouseClick(hash_form.start_button, Qt.MouseButton.LeftButton)
    (call,) = tracker.enqueued
    params = call["params"]
    assert call["type"] == "hash" and call["title"] == "Photos"
    assert params["workers"] == 8 and type(params["workers"]) is int
    assert params["folder"] == "/data/photos" and type(params["folder"]) is str
    assert params["algorithm"] == "md5"
    assert params["ratio"] == 1.0 and type(params["ratio"]) is float
    assert params["sizes"] == [1, 20]
    assert blocker.args == [next(iter(reversed(tracker.jobs)))]


def test_missing_required_field_shows_message_and_queues_nothing(tracker, hash_form):
    assert hash_form.submit() is None
    assert tracker.enqueued == []
    assert hash_form.error_labels["folder"].isVisibleTo(hash_form)
    assert hash_form.error_labels["folder"].text() == "Folder is required"
    assert hash_form.general_error.isVisibleTo(hash_form)
    assert not hash_form.error_labels["workers"].isVisibleTo(hash_form)


def test_unconvertible_list_item_names_the_field(tracker, hash_form):
    field(hash_form, "folder").edit.setText("/x")
    field(hash_form, "sizes").edit.setPlainText("1\nlots")
    assert hash_form.submit() is None
    assert tracker.enqueued == []
    assert "expected an integer" in hash_form.error_labels["sizes"].text()
    # fixing it clears the message and queues
    field(hash_form, "sizes").edit.setPlainText("1")
    assert hash_form.submit() is not None
    assert not hash_form.error_labels["sizes"].isVisibleTo(hash_form)


def test_enqueue_rejection_is_shown_too(tracker, hash_form, monkeypatch):
    def refuse(*a, **kw):
        raise ValueError("priority must be an integer")

    monkeypatch.setattr(tracker, "enqueue", refuse)
    field(hash_form, "folder").edit.setText("/x")
    assert hash_form.submit() is None
    assert "priority must be an integer" in hash_form.general_error.text()


def test_ctrl_return_submits(qtbot, tracker, hash_form):
    field(hash_form, "folder").edit.setText("/x")
    hash_form.show()
    qtbot.waitExposed(hash_form)
    hash_form.activateWindow()
    field(hash_form, "folder").edit.setFocus()
    qtbot.waitUntil(lambda: field(hash_form, "folder").edit.hasFocus(), timeout=1000)
    with qtbot.waitSignal(hash_form.jobQueued, timeout=1000):
        qtbot.keyClick(
            field(hash_form, "folder").edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
        )
    assert len(tracker.enqueued) == 1


def test_command_form_splits_argv_and_reads_the_environment(qtbot, tracker):
    form = LaunchForm(COMMAND, tracker)
    qtbot.addWidget(form)
    argv = form.fields["argv"]
    env = form.fields["env"]
    assert isinstance(argv, ArgvField) and isinstance(env, MappingField)
    assert isinstance(form.fields["shell"].focus_widget(), QCheckBox)
    argv.edit.setText("rsync -a 'My Photos/' backup:")
    env.add_row("LANG", "C")
    env.add_row("", "")
    assert form.submit() is not None
    params = tracker.enqueued[0]["params"]
    assert params["argv"] == ["rsync", "-a", "My Photos/", "backup:"]
    assert params["env"] == {"LANG": "C"}
    assert params["shell"] is False


def test_command_line_with_unbalanced_quote_is_rejected(qtbot, tracker):
    form = LaunchForm(COMMAND, tracker)
    qtbot.addWidget(form)
    field(form, "argv").edit.setText("echo 'oops")
    assert form.submit() is None
    assert "quotation" in form.error_labels["argv"].text()
    assert tracker.enqueued == []


def test_environment_value_without_name_is_rejected(qtbot, tracker):
    form = LaunchForm(COMMAND, tracker)
    qtbot.addWidget(form)
    field(form, "argv").edit.setText("true")
    field(form, "env").add_row("", "orphan")
    assert form.submit() is None
    assert "no name" in form.error_labels["env"].text()


def test_browse_fills_the_path(qtbot, tracker, monkeypatch, hash_form):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: "/picked"))
    qtbot.mouseClick(hash_form.fields["folder"].browse_button, Qt.MouseButton.LeftButton)
    assert field(hash_form, "folder").edit.text() == "/picked"


def test_set_params_prefills(qtbot, tracker, hash_form):
    hash_form.set_params({"folder": "/a", "workers": 5, "algorithm": "sha1", "sizes": [3]})
    assert hash_form.params() == {
        "folder": "/a",
        "algorithm": "sha1",
        "workers": 5,
        "ratio": 1.0,
        "sizes": [3],
    }


# --- wording comes from the job type, numbers read like numbers --------------------------


def builtin_forms(qtbot, tracker):
    from jobdeck.jobs import builtin_registry

    for job_type in builtin_registry():
        form = LaunchForm(job_type, tracker)
        qtbot.addWidget(form)
        yield job_type, form


def test_every_builtin_form_shows_the_schema_labels_and_defaults(qtbot, tracker):
    from jobdeck.core.registry import REQUIRED
    from jobdeck.ui.param_fields import kind_name

    for job_type, form in builtin_forms(qtbot, tracker):
        for spec in job_type.params:
            label = form.field_labels[spec.name].text()
            assert label == f"{spec.label or spec.name}:", (job_type.name, spec.name)
            field = form.fields[spec.name]
            if spec.default is REQUIRED or spec.default is None:
                continue
            kind = kind_name(spec.kind)
            if kind in ("str", "path") and isinstance(spec.default, str):
                here = kind == "path" and spec.default == "."  # shown empty: see below
                assert field.edit.text() == ("" if here else spec.default), spec.name
            elif kind in ("int", "float"):
                assert field.widget.value() == spec.default, (job_type.name, spec.name)
            elif kind == "bool":
                assert field.check.isChecked() == spec.default


def test_a_seconds_box_shows_no_trailing_zeros(qtbot, tracker):
    from jobdeck.jobs import builtin_registry

    form = LaunchForm(builtin_registry()["countdown"], tracker)
    qtbot.addWidget(form)
    spin = field(form, "seconds").widget
    assert spin.text() == "10"  # not "10.000"
    spin.setValue(2.5)
    assert spin.text() == "2.5"
    spin.clear()
    qtbot.keyClicks(spin, "0.125")
    assert spin.value() == 0.125 and spin.text() == "0.125"


def test_an_error_at_enqueue_shows_under_its_field_as_given(qtbot, tracker, monkeypatch):
    from jobdeck.core.registry import ParamError

    form = LaunchForm(COMMAND, tracker)
    qtbot.addWidget(form)

    def refuse(*a, **kw):
        raise ParamError("cwd", "No such folder: /nowhere")

    monkeypatch.setattr(tracker, "enqueue", refuse)
    field(form, "argv").edit.setText("ls")
    field(form, "cwd").edit.setText("/nowhere")
    assert form.submit() is None
    assert form.error_labels["cwd"].text() == "No such folder: /nowhere"
    assert form.general_error.text() == "Not started: Working directory: No such folder: /nowhere"
    assert not form.error_labels["argv"].isVisibleTo(form)


def test_a_path_defaulting_to_here_shows_empty_with_what_empty_means(qtbot, tracker, tmp_path):
    """The Python script form's working directory read "." (which a user takes for the
    app's own folder) and hid its hint "empty: the script's folder" (QA sweep). Empty, it
    queues the job to run in the script's folder, as "." did."""
    from jobdeck.jobs import builtin_registry

    python = builtin_registry()["python"]
    form = LaunchForm(python, tracker)
    qtbot.addWidget(form)
    cwd = form.fields["cwd"]
    assert isinstance(cwd, PathField)
    assert cwd.edit.text() == ""
    assert "the script's folder" in cwd.edit.placeholderText()
    script = tmp_path / "work.py"
    script.write_text("print('50%')\n")
    form.fields["script"].set_value(str(script))
    job_id = form.submit()
    assert job_id is not None
    assert python.process_spec(tracker.jobs[job_id]).cwd == str(tmp_path)
