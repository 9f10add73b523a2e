"""Which errors are permanent, and the one rule that turns them into a failure without retries."""

from __future__ import annotations

import pytest

from airflow_asf_ifg import exceptions as errors
from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.failing import is_permanent, permanent_errors_fail_the_task

CASES = [
    pytest.param(errors.EarthdataLoginError("wrong password"), True, id="login-refused"),
    pytest.param(errors.EulaNotAcceptedError("EULA", "https://urs/approve"), True, id="eula"),
    pytest.param(errors.InvalidInputError("bad aoi"), True, id="bad-input"),
    pytest.param(errors.EndpointNotConfiguredError("no endpoint"), True, id="no-endpoint"),
    pytest.param(errors.CredentialsRetiredError("410", 410), True, id="retired"),
    pytest.param(errors.AsfCredentialsError("out of region", 403), True, id="keys-refused"),
    pytest.param(errors.AsfCredentialsError("throttled", 429), False, id="keys-throttled"),
    pytest.param(errors.AsfCredentialsError("failing", 503), False, id="keys-5xx"),
    pytest.param(errors.CmrSearchError("Parameter [x] was not recognized.", 400), True, id="cmr-400"),
    pytest.param(errors.CmrSearchError("throttled", 429), False, id="cmr-429"),
    pytest.param(errors.CmrSearchError("down", 503), False, id="cmr-503"),
    pytest.param(errors.ServiceError("request timeout", 408), False, id="service-408"),
    pytest.param(errors.CollectionNotFoundError("C1-X", 200), True, id="unknown-collection"),
    pytest.param(errors.TooManyResultsError("too many", 20, 10), True, id="too-many"),
    pytest.param(errors.IncompleteSearchError("partial", 5, 10), False, id="partial"),
    pytest.param(errors.ProductMissingError("404"), True, id="missing"),
    pytest.param(errors.ProductArchivedError("202", "x.zip"), False, id="archived"),
    pytest.param(errors.ChecksumMismatchError("md5"), True, id="checksum"),
    pytest.param(errors.TransferError("failed"), False, id="transfer"),
    pytest.param(errors.HostNotFoundError("no host", "x.invalid"), True, id="dns"),
    pytest.param(errors.DestinationBucketError("no bucket"), True, id="bucket"),
    pytest.param(ValueError("not ours"), False, id="plain-value-error"),
]


@pytest.mark.parametrize(("error", "permanent"), CASES)
def test_each_error_says_whether_retrying_can_help(error, permanent):
    assert is_permanent(error) is permanent


@pytest.mark.parametrize(("error", "permanent"), CASES)
def test_permanent_errors_fail_the_task_and_others_are_left_to_retries(error, permanent):
    with pytest.raises(AirflowFailException if permanent else type(error)) as raised, permanent_errors_fail_the_task():
        raise error
    if permanent:
        assert str(error) in str(raised.value) and raised.value.__cause__ is error
    else:
        assert raised.value is error
