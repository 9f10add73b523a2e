"""The "ASF retrievals" page on the installed Airflow: the API server lists it in the UI's navigation
(``external_views``, Airflow 3.1 and later) and serves its page and its API. (That an anonymous request is
refused is tested in tests/e2e: in this all-admins mode 3.2 and later let every request in.)"""

from __future__ import annotations


class TestAsfIfgPlugin:
    def test_the_ui_lists_the_page_in_its_navigation(self, api_server):
        client, auth = api_server
        plugins = {p["name"]: p for p in client.get("/api/v2/plugins", headers=auth).json()["plugins"]}
        view = plugins["asf_ifg"]["external_views"]
        assert [(v["name"], v["href"], v["destination"], v["url_route"]) for v in view] == [
            ("ASF retrievals", "/asf-ifg/retrievals", "nav", "asf-retrievals")
        ]

    def test_the_page_and_its_api_are_served(self, api_server):
        client, auth = api_server
        page = client.get("/asf-ifg/retrievals")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        listed = client.get("/asf-ifg/api/retrievals", headers=auth)
        assert listed.status_code == 200
        # What earlier tests' runs left in the session's database is listed too: the shape, not the rows.
        assert isinstance(listed.json()["waiting"], list) and isinstance(listed.json()["copies"], list)
