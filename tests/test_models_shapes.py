"""helpers.models.shapes.check_input_shape: the one input-shape check of every model builder (issue 27 item 1)."""

import numpy as np
import pytest

from helpers.errors import ParameterError
from helpers.models.shapes import check_input_shape


def test_shapes_are_tuples_of_ints():
    assert check_input_shape(12, 1, "build_dense") == (12,)
    assert check_input_shape([259, np.int64(13), 1], 3, "build_report_cnn") == (259, 13, 1)


@pytest.mark.parametrize("shape", [(259, 13), (259, 13.0, 1), (259, 0, 1), (259, True, 1), 13.5])
def test_other_shapes_are_one_line_errors_naming_the_builder(shape):
    with pytest.raises(ParameterError, match=r"^build_report_cnn: input_shape must be 3 positive whole size"):
        check_input_shape(shape, 3, "build_report_cnn")
