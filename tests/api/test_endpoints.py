"""The JSON endpoints, against an ApiServer on a real Unix socket (in this process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from jobdeck.api.client import ApiClient, ApiError
from jobdeck.core import JobStatus, JobTracker
from tests.api.serving import LoopServer


def refused(call: Callable[[], object], status: int) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.status == status, info.value.body
    return info.value


@pytest.fixture
def client(api: LoopServer) -> Iterator[ApiClient]:
    c = api.client()
    yield c
    c.close()


def test_enqueue_returns_the_pending_job_titled_by_its_command(
    client: ApiClient, tracker: JobTracker
) -> None:
    job = client.post("/api/jobs", {"params": {"argv": ["make", "-j4"]}, "priority": 3})
    assert job["status"] == "pending" and job["type"] == "command"
    assert job["title"] == "make -j4" and job["priority"] == 3
    assert tracker.get_job(job["id"]).status is JobStatus.PENDING  # type: ignore[union-attr]
    again = client.get(f"/api/jobs/{job['id']}")
    assert again["id"] == job["id"] and again["params"]["argv"] == ["make", "-j4"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"params": {"argv": []}}, "params.argv", "Enter a command"),
        ({"params": {"argv": ["x"], "cwd": "/no/such/dir"}}, "params.cwd", "/no/such/dir"),
        ({"params": {"argv": ["x"], "bogus": 1}}, "params.bogus", "unknown parameter"),
        ({"type": "nope"}, "type", "unknown job type 'nope'"),
        ({"type": 5}, "type", "job type"),
        ({"params": {"argv": ["x"]}, "colour": "red"}, "colour", "unknown field 'colour'"),
        ({"params": {"argv": ["x"]}, "priority": "high"}, "priority", "integer"),
        ({"params": {"argv": ["x"]}, "priority": True}, "priority", "integer"),
        ({"params": {"argv": ["x"]}, "max_attempts": 0}, "max_attempts", "max_attempts"),
        ({"params": {"argv": ["x"]}, "timeout": -1}, "timeout", "positive"),
        ({"params": {"argv": ["x"]}, "run_at": "soon"}, "run_at", "not a date"),
        ({"params": {"argv": ["x"]}, "depends_on": ["ZZZZ"]}, "depends_on", "ZZZZ"),
        ({"params": {"argv": ["x"]}, "depends_on": "ABC"}, "depends_on", "list"),
        ({"params": "argv=x"}, "params", "JSON object"),
        ({"params": {"argv": ["x"]}, "title": 7}, "title", "text"),
        ({"params": {"argv": ["x"]}, "metadata": [1]}, "metadata", "mapping"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_queued(
    client: ApiClient, tracker: JobTracker, body: dict, field: str, words: str
) -> None:
    error = refused(lambda: client.post("/api/jobs", body), 422)
    assert error.field == field and words in error.message, error.body
    assert tracker.count_jobs() == 0
    assert client.get("/api/info")["app"] == "jobdeck"  # unharmed


def test_list_count_search_and_paging(client: ApiClient, tracker: JobTracker) -> None:
    ids = [tracker.enqueue("countdown", {"seconds": 1}, title=f"job {i}").id for i in range(5)]
    ctx = tracker.create_job("scrape", title="Scrape the news")
    tracker.complete_job(ctx.job_id, success=False, error="timed out")
    listed = client.get("/api/jobs", limit=3)
    assert [j["id"] for j in listed["jobs"]] == [ctx.job_id, *ids[::-1][:2]]
    rest = client.get("/api/jobs", limit=3, before=listed["next_before"])
    assert [j["id"] for j in rest["jobs"]] == ids[::-1][2:5]
    assert client.get("/api/jobs/count")["count"] == 6
    assert client.get("/api/jobs/count", status="pending")["count"] == 5
    assert client.get("/api/jobs/count", status="Failed,pending")["count"] == 6
    assert [j["id"] for j in client.get("/api/jobs", search="timed out")["jobs"]] == [ctx.job_id]
    assert client.get("/api/jobs", type="scrape")["jobs"][0]["error"]["message"] == "timed out"
    error = refused(lambda: client.get("/api/jobs", status="done"), 400)
    assert error.field == "status" and "pending, running" in error.message
    refused(lambda: client.get("/api/jobs", limit="lots"), 400)


def test_get_by_unique_prefix_unknown_and_ambiguous(client: ApiClient, tracker: JobTracker) -> None:
    a = tracker.enqueue("countdown", {"seconds": 1}).id
    b = tracker.enqueue("countdown", {"seconds": 1}).id
    common = next(i for i in range(len(a)) if a[i] != b[i])
    assert client.get(f"/api/jobs/{a[: common + 1].lower()}")["id"] == a
    error = refused(lambda: client.get(f"/api/jobs/{a[:common]}"), 400)
    assert set(error.body["candidates"]) == {a, b} and "give more of the id" in error.message
    error = refused(lambda: client.get("/api/jobs/NOSUCHJOB"), 404)
    assert "NOSUCHJOB" in error.message
    refused(lambda: client.post("/api/jobs/NOSUCHJOB/cancel"), 404)
    refused(lambda: client.post("/api/jobs/NOSUCHJOB/retry"), 404)
    refused(lambda: client.get("/api/jobs/NOSUCHJOB/logs"), 404)
    refused(lambda: client.get("/api/nothing/here"), 404)


def test_cancel_of_many_cancels_the_queued_ones_first(
    client: ApiClient, tracker: JobTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running job's cancel frees its slot, and a queued job handed over to the
    supervisor service would start in it before its own cancel came (see
    test_cancel_all_in_the_tray_starts_none_of_the_jobs_handed_over): the queued go first."""
    running = tracker.create_job("scrape").job_id
    queued = [tracker.enqueue("countdown", {"seconds": 9}).id for _ in range(2)]
    order: list[str] = []
    cancel = tracker.cancel_job

    def recorded(job_id: str) -> bool:
        order.append(job_id)
        return cancel(job_id)

    monkeypatch.setattr(tracker, "cancel_job", recorded)
    client.post("/api/jobs/cancel", {"ids": [running, *queued]})
    assert order == [*queued, running]
    order.clear()
    again = tracker.create_job("scrape").job_id
    later = tracker.enqueue("countdown", {"seconds": 9}).id
    client.post("/api/jobs/cancel", {"all": True})
    assert order[0] == later and set(order) == {later, running, again}


def test_cancel_one_many_and_all(client: ApiClient, tracker: JobTracker) -> None:
    jobs = [tracker.enqueue("countdown", {"seconds": 9}).id for _ in range(4)]
    answer = client.post(f"/api/jobs/{jobs[0]}/cancel")
    assert answer["cancelled"] and answer["job"]["status"] == "cancelled"
    assert answer["stopping"] is False  # it was queued: cancelled at once
    error = refused(lambda: client.post(f"/api/jobs/{jobs[0]}/cancel"), 409)
    assert "already cancelled" in error.message
    answer = client.post("/api/jobs/cancel", {"ids": [jobs[0], jobs[1]]})
    assert answer["cancelled"] == [jobs[1]]
    assert answer["not_cancelled"][0]["id"] == jobs[0]
    running = tracker.create_job("scrape")
    answer = client.post("/api/jobs/cancel", {"all": True})
    assert sorted(answer["cancelled"]) == sorted([*jobs[2:], running.job_id])
    assert answer["stopping"] == [running.job_id]  # which were running: asked to stop
    assert running.cancelled  # a running job is asked to stop
    again = tracker.create_job("scrape")
    answer = client.post(f"/api/jobs/{again.job_id}/cancel")
    assert answer["stopping"] is True and answer["job"]["status"] == "running"
    refused(lambda: client.post("/api/jobs/cancel", {}), 422)
    refused(lambda: client.post("/api/jobs/cancel", {"ids": ["X"], "now": 1}), 422)


def test_retry_makes_a_new_run_and_failed_retries_each_once(
    client: ApiClient, tracker: JobTracker
) -> None:
    failed = []
    for i in range(2):
        ctx = tracker.create_job("scrape", title=f"s{i}")
        tracker.complete_job(ctx.job_id, success=False, error="boom")
        failed.append(ctx.job_id)
    active = tracker.enqueue("countdown", {"seconds": 5}).id
    new = client.post(f"/api/jobs/{failed[0]}/retry")
    assert new["retry_of"] == failed[0] and new["status"] == "pending" and new["title"] == "s0"
    error = refused(lambda: client.post(f"/api/jobs/{active}/retry"), 409)
    assert "still pending" in error.message
    again = client.post("/api/jobs/retry", {"failed": True})["jobs"]
    assert [j["retry_of"] for j in again] == [failed[1]]  # failed[0] was run again already
    assert client.post("/api/jobs/retry", {"failed": True})["jobs"] == []


def test_wait_for_all_or_any_and_time_out(client: ApiClient, tracker: JobTracker) -> None:
    a, b = tracker.create_job("w"), tracker.create_job("w")
    quick = client.get("/api/jobs/wait", id=[a.job_id], timeout=0.2)
    assert quick["done"] is False and quick["jobs"][0]["status"] == "running"
    threading.Timer(0.3, lambda: tracker.complete_job(a.job_id)).start()
    started = time.monotonic()
    answer = client.request(
        "GET", "/api/jobs/wait", query={"id": [a.job_id, b.job_id], "any": True, "timeout": 20}
    )
    assert answer["done"] and time.monotonic() - started < 15
    assert {j["id"]: j["status"] for j in answer["jobs"]} == {
        a.job_id: "completed",
        b.job_id: "running",
    }
    threading.Timer(0.3, lambda: tracker.complete_job(b.job_id, success=False, error="x")).start()
    answer = client.request("GET", "/api/jobs/wait", query={"id": [a.job_id, b.job_id]})
    assert answer["done"] and answer["jobs"][1]["status"] == "failed"
    refused(lambda: client.get("/api/jobs/wait"), 400)
    refused(lambda: client.get("/api/jobs/wait", id="X", timeout=9999), 404)
    refused(lambda: client.get("/api/jobs/wait", id=a.job_id, timeout=9999), 400)


def test_logs_are_paged_and_tailed(client: ApiClient, tracker: JobTracker) -> None:
    ctx = tracker.create_job("w")
    for i in range(25):
        ctx.log(f"line {i}")
    tracker.complete_job(ctx.job_id)
    page = client.get(f"/api/jobs/{ctx.job_id}/logs", offset=10, limit=5)
    assert [e["message"] for e in page["entries"]] == [f"line {i}" for i in range(10, 15)]
    assert page["next"] == 15 and page["total"] == 25
    tail = client.get(f"/api/jobs/{ctx.job_id}/logs", tail=2)
    assert [e["message"] for e in tail["entries"]] == ["line 23", "line 24"]
    refused(lambda: client.get(f"/api/jobs/{ctx.job_id}/logs", offset=-1), 400)
    error = refused(lambda: client.get(f"/api/jobs/{ctx.job_id}/output"), 404)
    assert "no output file" in error.message


def test_followed_logs_stream_until_the_job_ends(client: ApiClient, tracker: JobTracker) -> None:
    import json

    ctx = tracker.create_job("w")
    ctx.log("before")
    tracker.flush()
    response = client.stream(f"/api/jobs/{ctx.job_id}/logs", {"follow": True}, timeout=30)
    first = json.loads(response.readline())
    assert first["message"] == "before"
    ctx.log("during")
    assert json.loads(response.readline())["message"] == "during"
    tracker.complete_job(ctx.job_id)
    assert json.loads(response.readline())["finished"]["status"] == "completed"
    assert response.readline() == b""


def test_stats_types_and_info(client: ApiClient, tracker: JobTracker) -> None:
    tracker.enqueue("countdown", {"seconds": 1})
    ctx = tracker.create_job("countdown")
    tracker.complete_job(ctx.job_id)
    stats = client.get("/api/stats")
    assert stats["total"] == 2 and stats["by_status"]["pending"] == 1
    assert stats["by_type"]["countdown"] == {
        "pending": 1,
        "running": 0,
        "completed": 1,
        "failed": 0,
        "cancelled": 0,
    }
    types = {t["name"]: t for t in client.get("/api/types")["types"]}
    assert "command" in types and types["countdown"]["params"][0]["name"] == "seconds"
    info = client.get("/api/info")
    assert info["app"] == "jobdeck" and info["gui"] is False and info["listen"] is None
    error = refused(lambda: client.post("/api/app/show"), 409)
    assert "without a window" in error.message


def test_stats_of_a_period_per_type_key_and_failure(client: ApiClient, tracker: JobTracker) -> None:
    for seconds in (1, 2):
        ctx = tracker.create_job("countdown", params={"seconds": seconds})
        tracker.complete_job(ctx.job_id)
    ctx = tracker.create_job("countdown", params={"seconds": 1})
    tracker.complete_job(ctx.job_id, success=False, error="disk full\nwriting /tmp/x")
    stats = client.get("/api/stats?period=24h&keys=1")
    assert stats["total"] == 3 and stats["by_type"]["countdown"]["failed"] == 1  # as before
    assert stats["period"] == "24h" and stats["now"] >= stats["since"]
    (countdown,) = stats["types"]
    assert (countdown["type"], countdown["runs"], countdown["failed"]) == ("countdown", 3, 1)
    assert countdown["success_rate"] == 2 / 3 and countdown["max_s"] is not None
    assert stats["keys_total"] == 2 and len(stats["keys"]) == 1  # the busiest one
    assert stats["keys"][0]["name"] == 'countdown {"seconds":1}' and stats["keys"][0]["runs"] == 2
    assert [(f["first_line"], f["runs"]) for f in stats["failures"]] == [("disk full", 1)]
    assert sum(stats["throughput"]["completed"]) == 2 and stats["throughput"]["bucket_s"] == 3600
    assert client.get("/api/stats?period=all")["types"][0]["runs"] == 3
    error = refused(lambda: client.get("/api/stats?period=week"), 400)
    assert "unknown period 'week': use one of 24h, 7d, 30d, all" in error.message
    assert (
        "keys must be between 0 and 500"
        in refused(lambda: client.get("/api/stats?period=7d&keys=9999"), 400).message
    )
