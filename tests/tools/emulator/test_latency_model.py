"""The latency model: per-record costs, and Bulk jobs that take time in proportion to their records."""

from __future__ import annotations

import time

from tests.tools.emulator.test_bulk import JOBS, open_job, run
from tools.emulator.latency import LatencyModel
from tools.emulator.wire import Reply


def test_a_collection_write_costs_its_base_plus_each_record():
    model = LatencyModel(base_ms=50, write_record_ms=4, query_record_ms=0.5)
    reply = Reply.json(200, [{"success": True}] * 200)
    assert model.seconds("collection_upsert", reply) == (50 + 200 * 4) / 1000
    assert model.seconds("sobject_upsert", Reply.json(201, {"id": "x"})) == (50 + 4) / 1000
    assert model.seconds("query", Reply.json(200, {"records": [{}] * 100, "done": True})) == (50 + 50) / 1000
    assert model.seconds("describe", Reply.json(200, {"fields": [{}] * 300})) == 50 / 1000
    assert model.seconds("collection_upsert", Reply.json(400, [{"errorCode": "X"}] * 3)) == 50 / 1000


def test_a_bulk_job_stays_in_progress_with_its_processed_count_rising_until_every_record_is_done(emulator, api):
    emulator.latency = LatencyModel(base_ms=0, write_record_ms=0, query_record_ms=0, bulk_records_per_second=100)
    job = open_job(api, object="Lead", operation="insert")
    first = run(api, job, "LastName,Company\n" + "".join(f"Ng{n},Acme\n" for n in range(300)))  # 3 s of work
    seen = [first["numberRecordsProcessed"]]
    assert first["state"] == "InProgress" and seen[0] < 300
    state = first["state"]
    while state != "JobComplete":
        time.sleep(0.2)
        info = api.get(f"{JOBS}/{job['id']}").json()
        state = info["state"]
        seen.append(info["numberRecordsProcessed"])
    assert seen == sorted(seen) and seen[-1] == 300 and len(set(seen)) >= 3
    assert len(emulator.org.records("Lead")) == 300


def test_a_composite_call_costs_one_base_plus_every_subrequests_records():
    model = LatencyModel(base_ms=50, write_record_ms=4, query_record_ms=0.5)
    subs = [{"httpStatusCode": 200, "referenceId": f"r{n}", "body": [{"success": True}] * 200} for n in range(5)]
    subs.append({"httpStatusCode": 200, "referenceId": "q", "body": {"records": [{}] * 100, "done": True}})
    subs.append({"httpStatusCode": 400, "referenceId": "x", "body": [{"errorCode": "X"}] * 3})  # refused: none
    assert model.seconds("composite", Reply.json(200, {"compositeResponse": subs})) == (50 + 1000 * 4 + 50) / 1000
    assert model.seconds("composite", Reply.json(400, [{"errorCode": "X"}])) == 50 / 1000
