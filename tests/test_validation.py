"""What a DAG file may check at parse time: clear errors, and no protocol stack loaded to give them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_asf_ifg.validation import FILE_ROLES, WINDOWS, check_aoi, check_files, check_window


class TestChecks:
    def test_good_values_pass(self):
        check_aoi("-118.1445,34.1478")
        assert check_files(("data", "browse")) == ["data", "browse"]
        assert check_window("revision") == "revision"
        assert set(FILE_ROLES) == {"data", "browse", "metadata"} and WINDOWS == ("acquisition", "revision")

    @pytest.mark.parametrize(
        ("check", "value", "message"),
        [
            pytest.param(check_aoi, "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "crosses itself", id="aoi"),
            pytest.param(check_files, ["thumbnail"], "must be a non-empty list of", id="files"),
            pytest.param(check_window, "sensing", "window 'sensing' is not one of", id="window"),
        ],
    )
    def test_bad_values_name_themselves(self, check, value, message):
        with pytest.raises(ValueError, match=message):
            check(value)


def test_importing_it_loads_no_http_or_aws_stack():
    probe = (
        "import json, sys; import airflow_asf_ifg.validation; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('requests', 'aiohttp', 'boto3', 'botocore', 'airflow'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []
