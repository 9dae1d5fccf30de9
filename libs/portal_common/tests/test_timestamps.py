import pytest

from portal_common.domain_errors import InvalidArgument
from portal_common.timestamps import MAX_TIMESTAMP, check_timestamp


@pytest.mark.parametrize("value", [0, 1704067200000, MAX_TIMESTAMP, 1704067200000.0])
def test_whole_milliseconds_from_1970_to_9999(value):
    assert check_timestamp(value, "issueDate") == int(value)


@pytest.mark.parametrize("value", [1.5, -1, MAX_TIMESTAMP + 1, True, "1704067200000", None, float("inf")])
def test_anything_else_is_refused_never_truncated(value):
    with pytest.raises(InvalidArgument) as refused:
        check_timestamp(value, "issueDate")
    assert refused.value.field == "issueDate"
