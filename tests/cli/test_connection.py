"""Identity and endpoints of the command line: Airflow's connection forms, then .netrc, then EARTHDATA_*."""

from __future__ import annotations

import json

import pytest

from airflow_asf_ifg.cli.connection import Profile, connection_fields, parse_connection
from airflow_asf_ifg.exceptions import ConfigurationError, ConnectionFormatError, EarthdataLoginError


class TestParseConnection:
    @pytest.mark.parametrize(
        ("text", "login", "password", "extra"),
        [
            pytest.param(
                '{"conn_type": "earthdata", "login": "me", "password": "p@ss", "extra": {"cmr_url": '
                '"https://cmr.example"}}',
                "me",
                "p@ss",
                {"cmr_url": "https://cmr.example"},
                id="json",
            ),
            pytest.param(
                '{"conn_type": "earthdata", "extra": "{\\"token\\": \\"t\\"}"}',
                None,
                None,
                {"token": "t"},
                id="json-extra-as-text",
            ),
            pytest.param(
                "earthdata://me:p%40ss%2Fx@/?cmr_url=https%3A%2F%2Fcmr.example",
                "me",
                "p@ss/x",
                {"cmr_url": "https://cmr.example"},
                id="uri-query-extra",
            ),
            pytest.param(
                "earthdata://me:pw@/?__extra__=%7B%22verify%22%3A+false%7D",
                "me",
                "pw",
                {"verify": False},
                id="uri-__extra__",
            ),
        ],
    )
    def test_airflow_forms(self, text, login, password, extra):
        fields = parse_connection(text, "X")
        assert (fields.login, fields.password, fields.extra) == (login, password, extra)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            pytest.param("{not json", "is not valid JSON", id="json"),
            pytest.param('{"extra": [1]}', "extra must be a JSON object", id="extra-list"),
            pytest.param("just-a-word", "neither Airflow's JSON form nor an earthdata:// URI", id="word"),
            pytest.param("earthdata://me:pw@/?__extra__=[1]", "must be a JSON object", id="uri-extra-list"),
        ],
    )
    def test_bad_text_names_the_source(self, text, message):
        with pytest.raises(ValueError, match=message) as error:
            parse_connection(text, "AIRFLOW_CONN_EARTHDATA_DEFAULT")
        assert "AIRFLOW_CONN_EARTHDATA_DEFAULT" in str(error.value)

    @pytest.mark.parametrize(
        ("text", "found"),
        [
            pytest.param("extra:{edl_url:http://x}", "it reads as a connection of type 'extra'", id="extra-colon"),
            pytest.param("http://me:pw@urs.example/", "it reads as a connection of type 'http'", id="http-uri"),
            pytest.param("earthdata:me:pw@/", "neither Airflow's JSON form nor an earthdata:// URI", id="no-slashes"),
            pytest.param(
                '{"conn_type": "aws", "login": "KEY", "password": "pw"}',
                "has conn_type 'aws', not 'earthdata'",
                id="json-of-another-type",
            ),
        ],
    )
    def test_text_that_is_no_earthdata_connection_is_refused_with_the_two_forms(self, text, found):
        with pytest.raises(ConnectionFormatError) as caught:
            parse_connection(text, "AIRFLOW_CONN_EARTHDATA_DEFAULT")
        message = str(caught.value)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConfigurationError)
        assert message.startswith("AIRFLOW_CONN_EARTHDATA_DEFAULT ") and found in message
        assert 'give Airflow\'s JSON form {"conn_type": "earthdata", "login": ...' in message
        assert "or a URI earthdata://LOGIN:PASSWORD@/?edl_url=" in message
        assert "pw" not in message.replace("PASSWORD", "")  # the text itself is not echoed

    def test_json_without_conn_type_is_still_read(self):
        assert parse_connection('{"login": "me", "password": "pw"}', "X").login == "me"

    def test_a_uri_password_is_not_repeated_in_the_error(self):
        with pytest.raises(ValueError, match="neither Airflow's JSON form") as error:
            parse_connection("earthdata:/me:secret-pw", "--conn-uri")
        assert "secret-pw" not in str(error.value)

    def test_conn_uri_wins_over_the_environment(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_DEFAULT", json.dumps({"login": "from-env", "password": "x"}))
        assert connection_fields("earthdata://from-flag:y@/").login == "from-flag"
        assert connection_fields(None).login == "from-env"
        monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps({"login": "other", "password": "x"}))
        assert connection_fields(None, "other").login == "other"


class TestProfile:
    def test_unknown_extra_is_refused_by_name(self):
        with pytest.raises(ValueError, match=r"--conn-uri: unknown earthdata connection extra field\(s\) \['colour'\]"):
            Profile.load("earthdata://me:pw@/?colour=blue")

    def test_connection_then_netrc_then_environment(self, asf_sandbox, netrc_for, monkeypatch):
        edl = asf_sandbox.urls.edl
        monkeypatch.setenv("EARTHDATA_USERNAME", "env_user")
        monkeypatch.setenv("EARTHDATA_PASSWORD", "env-password")
        with_login = Profile.load(json.dumps({"login": "conn_user", "password": "pw", "extra": {"edl_url": edl}}))
        assert with_login.identity().login == "conn_user"
        bare = Profile.load(json.dumps({"extra": {"edl_url": edl}}))
        netrc_for(asf_sandbox, login="netrc_user")
        assert bare.identity().login == "netrc_user"
        monkeypatch.setenv("NETRC", "/nonexistent/netrc")
        identity = bare.identity()
        assert (identity.login, identity.source) == ("env_user", "EARTHDATA_* variables")
        monkeypatch.delenv("EARTHDATA_USERNAME")
        monkeypatch.setenv("EARTHDATA_TOKEN", "a-token")
        assert bare.identity().token == "a-token"

    def test_username_without_password_is_refused(self, monkeypatch):
        monkeypatch.setenv("EARTHDATA_USERNAME", "env_user")
        monkeypatch.delenv("EARTHDATA_PASSWORD", raising=False)
        with pytest.raises(EarthdataLoginError, match="EARTHDATA_PASSWORD is not"):
            Profile.load(None).identity()
