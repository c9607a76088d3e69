def test_batch_with_a_bad_line(sparkpost_emulator):
    good = sparkpost_emulator.ingest_event("delivery", message_id="0000aa", rcpt_to="a@example.com")
    bad = {"msys": {"message_event": {"type": "delivery"}}}

    outcome = sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload([good, bad]))

    assert outcome["error_type"] == "validation"
    assert outcome["number_failed"] == 1
    assert [event["type"] for event in sparkpost_emulator.wait_for_events()] == ["delivery"]
    sparkpost_emulator.assert_no_events(within=0.2, events="bounce")
