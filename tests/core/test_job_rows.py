"""The model is the one definition of a job row: columns, row <-> Job and the UPDATEs follow."""

from __future__ import annotations

import dataclasses
import sqlite3

import peewee as pw
import pytest

from jobdeck.core.job import Job, JobError, JobStatus, Progress
from jobdeck.core.job_rows import JOB_ROWS, JobRows
from jobdeck.core.schema import FreeText, JobRecord, Text
from jobdeck.core.validation import MAX_TEXT


def a_job(**changes: object) -> Job:
    job = Job(
        id="01ABC",
        type="copy",
        title="Copy photos",
        status=JobStatus.FAILED,
        created_ts=1.5,
        priority=3,
        params={"source": "/a"},
        metadata={"who": "me"},
        progress=Progress(2, 10, "file 2"),
        started_ts=2.5,
        completed_ts=9.0,
        attempts=2,
        max_attempts=3,
        run_at_ts=1.0,
        timeout=60.0,
        depends_on=("01ABA", "01ABB"),
        error=JobError("disk full", "Traceback ..."),
        result={"n": 1},
        cancel_requested=True,
        retry_of="01AAA",
        pid=42,
        exit_code=1,
        log_path="/logs/01ABC.log",
        peak_rss=1000,
        cpu_seconds=0.5,
        last_seen_ts=8.0,
    )
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


def test_every_attribute_survives_a_row() -> None:
    job = a_job()
    assert JOB_ROWS.from_row(JOB_ROWS.to_row(job)) == job
    no_error = a_job(error=None, result=None, depends_on=())
    assert JOB_ROWS.from_row(JOB_ROWS.to_row(no_error)) == no_error
    assert set(JOB_ROWS.columns) == set(JobRecord._meta.fields)


def test_text_is_made_storable_on_its_way_into_a_row() -> None:
    row = JOB_ROWS.to_row(a_job(title="caf\udce9 " + "x" * (MAX_TEXT + 10)))
    title = row[JOB_ROWS.index["title"]]
    assert title.startswith("caf\\xe9 ") and len(title) <= MAX_TEXT


@pytest.mark.expected_log("a stored JSON value could not be read")
def test_a_damaged_row_reads_as_placeholders_not_a_crash() -> None:
    row = JOB_ROWS.to_row(a_job())
    row[JOB_ROWS.index["params"]] = "{not json"
    row[JOB_ROWS.index["status"]] = "exploded"
    row[JOB_ROWS.index["depends_on"]] = "[1, 2"
    job = JOB_ROWS.from_row(row)
    assert job.params == {"unreadable": "{not json"}
    assert job.status is JobStatus.FAILED and job.depends_on == ()
    assert JOB_ROWS.unreadable(row) == ["params", "depends_on"]


def test_a_partial_update_writes_just_the_columns_of_its_attributes() -> None:
    sql, values = JOB_ROWS.update(frozenset({"progress", "error"}))
    assert sql == (
        "UPDATE jobs SET progress_current = ?, progress_total = ?, progress_message = ?, "
        "error = ?, traceback = ? WHERE id = ?"
    )
    assert values(a_job()) == [2, 10, "file 2", "disk full", "Traceback ...", "01ABC"]
    assert values(a_job(error=None))[3:5] == [None, None]
    with pytest.raises(TypeError, match=r"has no field\(s\) \['colour'\]"):
        JOB_ROWS.update(frozenset({"colour"}))


# -- a field added in one place -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledJob(Job):
    """A job with one more attribute, as a future version of Job would have."""

    label: str | None = None
    owner: str = ""


class LabelledRecord(JobRecord):
    """The model with the new attribute's columns: the only row definition this needs."""

    label = FreeText(null=True)
    owner = Text(default="")

    class Meta:
        table_name = "jobs"


def test_a_column_added_to_the_model_is_listed_written_read_and_updated() -> None:
    rows = JobRows(LabelledRecord, LabelledJob)
    assert rows.columns[-2:] == ("label", "owner")
    db = pw.SqliteDatabase(":memory:")
    with db.bind_ctx([LabelledRecord]):
        db.create_tables([LabelledRecord])
    conn: sqlite3.Connection = db.connection()
    job = LabelledJob(**dataclasses.asdict(a_job()) | {"label": "night", "owner": "ann"})
    job = dataclasses.replace(job, progress=Progress(2, 10, "file 2"))
    job = dataclasses.replace(job, error=JobError("disk full", "Traceback ..."))
    conn.execute(rows.insert_sql, rows.to_row(job))
    [row] = conn.execute(f"{rows.select_sql} WHERE id = ?", (job.id,)).fetchall()
    assert rows.from_row(row) == job
    sql, values = rows.update(frozenset({"label"}))
    assert sql == "UPDATE jobs SET label = ? WHERE id = ?"
    conn.execute(sql, values(dataclasses.replace(job, label="day")))
    [row] = conn.execute(f"{rows.select_sql} WHERE id = ?", (job.id,)).fetchall()
    assert rows.from_row(row).label == "day"


def test_a_model_and_a_job_that_disagree_are_refused() -> None:
    class Extra(JobRecord):
        colour = Text(null=True)

        class Meta:
            table_name = "jobs"

    with pytest.raises(TypeError, match=r"columns without an attribute \['colour'\]"):
        JobRows(Extra, Job)
    with pytest.raises(TypeError, match=r"attributes without a column \['label', 'owner'\]"):
        JobRows(JobRecord, LabelledJob)

    class Plain(JobRecord):
        colour = pw.TextField(null=True)

        class Meta:
            table_name = "jobs"

    with pytest.raises(TypeError, match="column colour of Plain is not a MappedField"):
        JobRows(Plain, Job)
