"""The MT5 sandbox corrects and deletes deals as MetaQuotes documents `/api/deal/update`,
`/api/deal/delete` and `/api/deal/get` (the contract in sandbox/mt5/__init__.py): a POST whose
body is the deal record, answered with the record as it now stands; a GET deleting by ticket;
"13 Not found" and "3 Invalid parameters" where the pages say so. Its control surface does
the same for the demo and the tests."""

import json

from tests.sandbox import test_mt5_api as documented
from tests.sandbox.test_mt5_api import ALL_TIME, add_user, deposit

api = documented.api  # the authenticated Web API client fixture


def _traded(api, sandbox) -> tuple[str, dict]:
    login = add_user(api)
    deposit(api, login)
    status, answer = sandbox.control(
        "POST",
        "trade",
        {"login": int(login), "symbol": "EURUSD", "side": "buy", "volume": "0.50", "profit": "5"},
    )
    assert status == 200, answer
    closing = api.answer("/api/deal/get", ticket=str(answer["deals"][-1]))
    return login, closing


def test_update_corrects_the_deal_and_answers_its_record(api, mt5_sandbox):
    login, deal = _traded(api, mt5_sandbox)
    assert deal["Volume"] == "5000" and deal["Entry"] == "1"

    body = {"Deal": deal["Deal"], "Volume": "2500", "Profit": "2.50", "Commission": -3}
    status, reply = api.post("/api/deal/update", json.dumps(body).encode())

    assert status == 200 and reply["retcode"] == "0 Done"
    after = reply["answer"]
    assert after["Deal"] == deal["Deal"] and after["Login"] == login
    assert (after["Volume"], after["VolumeExt"]) == ("2500", "25000000")
    assert (after["Profit"], after["Commission"]) == ("2.50", "-3.00")
    assert after["Symbol"] == deal["Symbol"] and after["Time"] == deal["Time"]  # untouched
    # every later read answers the corrected record
    listed = api.answer("/api/deal/get_batch", login=login, **ALL_TIME)
    assert [d for d in listed if d["Deal"] == deal["Deal"]] == [after]
    assert api.answer("/api/deal/get", ticket=deal["Deal"]) == after


def test_update_refuses_what_the_pages_refuse_and_changes_nothing(api, mt5_sandbox):
    _, deal = _traded(api, mt5_sandbox)

    def update(body: bytes) -> str:
        return api.post("/api/deal/update", body)[1]["retcode"]

    assert update(json.dumps({"Deal": "999999", "Volume": "1"}).encode()) == "13 Not found"
    assert update(b"") == "3 Invalid parameters"
    assert update(b"[1, 2]") == "3 Invalid parameters"
    assert update(json.dumps({"Volume": "1"}).encode()) == "3 Invalid parameters"  # no Deal
    bad = [{"Volume": "lots"}, {"Profit": "1.234"}, {"Wrong": "1"}, {"Login": "1"}]
    for fields in bad:
        assert update(json.dumps({"Deal": deal["Deal"], **fields}).encode()) == (
            "3 Invalid parameters"
        ), fields
    assert api.answer("/api/deal/get", ticket=deal["Deal"]) == deal
    # a GET carries no record
    assert api.get("/api/deal/update", Deal=deal["Deal"])[1]["retcode"] == "3 Invalid parameters"


def test_delete_removes_the_deals_by_ticket(api, mt5_sandbox):
    login, deal = _traded(api, mt5_sandbox)
    before = api.answer("/api/deal/get_batch", login=login, **ALL_TIME)

    assert api.get("/api/deal/delete", ticket="999999")[1]["retcode"] == "13 Not found"
    both = f"{deal['Deal']},999999"
    assert api.get("/api/deal/delete", ticket=both)[1]["retcode"] == "13 Not found"
    assert api.get("/api/deal/delete")[1]["retcode"] == "3 Invalid parameters"
    assert len(api.answer("/api/deal/get_batch", login=login, **ALL_TIME)) == len(before)

    assert api.get("/api/deal/delete", ticket=deal["Deal"])[1] == {"retcode": "0 Done"}

    after = api.answer("/api/deal/get_batch", login=login, **ALL_TIME)
    assert [d["Deal"] for d in after] == [d["Deal"] for d in before if d != deal]
    assert api.get("/api/deal/get", ticket=deal["Deal"])[1]["retcode"] == "13 Not found"


def test_the_control_surface_corrects_and_deletes_without_a_session(api, mt5_sandbox):
    _, deal = _traded(api, mt5_sandbox)
    status, answer = mt5_sandbox.control(
        "POST", "deal_update", {"ticket": int(deal["Deal"]), "fields": {"Symbol": "GBPUSD"}}
    )
    assert status == 200 and answer["answer"]["Symbol"] == "GBPUSD"
    assert mt5_sandbox.control("POST", "deal_update", {"ticket": 1})[0] == 400
    status, answer = mt5_sandbox.control("POST", "deal_delete", {"ticket": int(deal["Deal"])})
    assert status == 200 and answer == {"retcode": "0 Done"}
    status, answer = mt5_sandbox.control("POST", "deal_delete", {"ticket": int(deal["Deal"])})
    assert answer == {"retcode": "13 Not found"}
