def test_submit_execute_status(harness):
    job_id = harness.submit(body={"steps": 2})
    assert harness.execute() == 1
    reply = harness.status("acme", "/diagnostic", job_id)
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "succeeded"
