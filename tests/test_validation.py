"""What a DAG file may check at parse time: clear errors, and no protocol stack loaded to give them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.validation import (
    BUCKET_PATTERN,
    FILE_ROLES,
    WINDOWS,
    check_aoi,
    check_bucket_name,
    check_files,
    check_number,
    check_positive,
    check_profile_name,
    check_window,
)


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


class TestNumbers:
    @pytest.mark.parametrize(
        ("kwargs", "value"),
        [
            pytest.param({}, 0, id="zero"),
            pytest.param({}, -1, id="negative"),
            pytest.param({}, float("nan"), id="nan"),
            pytest.param({}, float("inf"), id="inf"),
            pytest.param({}, "5", id="text"),
            pytest.param({}, True, id="bool"),
            pytest.param({"integer": True}, 2.5, id="not-whole"),
        ],
    )
    def test_check_positive_refuses(self, kwargs, value):
        with pytest.raises(InvalidInputError, match=r"^limit .* must be greater than 0 \(a (finite|whole) number\)"):
            check_positive("limit", value, **kwargs)

    def test_check_positive_accepts(self):
        assert check_positive("limit", 0.5) == 0.5 and check_positive("limit", 3, integer=True) == 3

    def test_check_number_bounds(self):
        assert check_number("days", 1, minimum=1, above_minimum=False) == 1
        with pytest.raises(InvalidInputError, match=r"days 0 must be at least 1 and at most 30"):
            check_number("days", 0, minimum=1, maximum=30, above_minimum=False)
        with pytest.raises(InvalidInputError, match=r"at most 30"):
            check_number("days", 31, minimum=1, maximum=30, above_minimum=False)


class TestBucketName:
    @pytest.mark.parametrize("bucket", ["abc", "my-bucket", "a.b-c", "x" * 63])
    def test_valid(self, bucket):
        assert check_bucket_name(bucket) == bucket

    @pytest.mark.parametrize(
        "bucket",
        ["", None, "ab", "x" * 64, "Bad_Bucket", "-start", "end-", "a..b", "192.168.1.1", "xn--abc", "b-s3alias", 5],
        ids=["empty", "none", "short", "long", "case", "start", "end", "dots", "ip", "prefix", "suffix", "number"],
    )
    def test_invalid(self, bucket):
        with pytest.raises(InvalidInputError, match=r"dest_bucket .*(not a valid S3 bucket name|is empty)"):
            check_bucket_name(bucket)

    def test_the_pattern_is_the_one_the_example_dag_gives_its_param(self):
        assert BUCKET_PATTERN == r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class TestProfileName:
    def test_valid(self):
        assert check_profile_name("asf-2018_grfn") == "asf-2018_grfn"

    @pytest.mark.parametrize(
        "profile", ["", "a]b", "[a", "a\nb", "a\rb", " asf", "a;b"], ids=["empty", "]", "[", "lf", "cr", "space", ";"]
    )
    def test_invalid(self, profile):
        with pytest.raises(InvalidInputError, match="profile_name"):
            check_profile_name(profile)
