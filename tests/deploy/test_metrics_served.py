"""The metrics of every gunicorn worker add up in one scrape (prometheus_client multiprocess)."""

import requests

from tests.brokerage.test_metrics import parse, value


def test_gunicorn_workers_count_into_one_scrape(served):
    def scraped():
        answer = requests.get(
            served.url("/metrics"), headers={"Authorization": "Bearer demo-metrics-token"}
        )
        assert answer.status_code == 200, answer.text
        return parse(answer.text)

    labels = {"route": "account_login", "method": "GET", "status": "200"}
    before = value(scraped(), "brokerage_http_requests_total", **labels)
    for _ in range(12):  # a new connection each: gunicorn's two workers share them
        answer = requests.get(served.url("/accounts/login/"), headers={"Connection": "close"})
        assert answer.status_code == 200
    after = value(scraped(), "brokerage_http_requests_total", **labels)
    assert after - before == 12
