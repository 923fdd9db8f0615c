"""autograder.plain: values survive encode → JSON text → decode, and nothing else is accepted."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch

from autograder.plain import Unsupported, decode, encode


def round_trip(value):
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 3.25, "", "むかしむかし、あるところに"])
def test_scalars(value):
    back = round_trip(value)
    assert back == value
    assert type(back) is type(value)


def test_bool_stays_bool():
    assert round_trip(True) is True
    assert round_trip(False) is False


@pytest.mark.parametrize("value", [2**53, 2**60, -(2**60), 10**30])
def test_big_ints_are_exact(value):
    back = round_trip(value)
    assert back == value and type(back) is int
    assert isinstance(encode(value), dict)  # not a JSON number, which would lose precision


def test_nan():
    back = round_trip(float("nan"))
    assert isinstance(back, float) and math.isnan(back)


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinities(value):
    assert round_trip(value) == value
    json.dumps(encode(value), allow_nan=False)  # encoded as strict JSON


def test_tuple():
    assert round_trip(("a", 1, 2.5)) == ("a", 1, 2.5)
    assert type(round_trip(("a",))) is tuple
    assert round_trip(()) == ()


def test_nested_list():
    value = [1, [2, [3, ("x", "y")]], [], "z"]
    back = round_trip(value)
    assert back == value
    assert type(back[1][1][1]) is tuple


def test_counter_with_tuple_keys():
    value = Counter({("むかし", "むかし"): 2, ("むかし", "、"): 1})
    back = round_trip(value)
    assert type(back) is Counter
    assert back == value
    assert all(type(k) is tuple for k in back)


def test_dict_with_tuple_keys():
    value = {("a", "b"): 0.5, ("c",): [1, 2], "plain": None}
    back = round_trip(value)
    assert type(back) is dict
    assert back == value


def test_dict_with_int_keys():
    assert round_trip({1: "a", 2: "b"}) == {1: "a", 2: "b"}


def test_set():
    value = {"a", ("b", "c"), 3}
    back = round_trip(value)
    assert type(back) is set
    assert back == value
    assert round_trip(frozenset({1})) == {1}


def test_numpy_float_array():
    value = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    back = round_trip(value)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.float32
    assert back.shape == (2, 3)
    np.testing.assert_allclose(back, value)


def test_numpy_int_array():
    value = np.array([[1, -2], [3, 4], [5, 6]], dtype=np.int64)
    back = round_trip(value)
    assert back.dtype == np.int64
    assert back.shape == (3, 2)
    np.testing.assert_array_equal(back, value)


def test_numpy_scalars_become_python_numbers():
    assert round_trip(np.int64(7)) == 7 and type(round_trip(np.int64(7))) is int
    assert round_trip(np.float32(0.5)) == 0.5
    assert round_trip(np.float64(0.25)) == 0.25


@pytest.mark.parametrize("value", [np.float64(-np.inf), np.float64(np.nan)])
def test_numpy_float64_non_finite(value):
    back = round_trip(value)
    assert isinstance(back, float)
    assert back == value or (math.isnan(back) and math.isnan(value))


def test_torch_float_tensor():
    value = torch.tensor([[1.5, -2.0, 0.25]])
    back = round_trip(value)
    assert isinstance(back, torch.Tensor)
    assert back.dtype == torch.float32
    assert back.shape == (1, 3)
    torch.testing.assert_close(back, value)


def test_torch_bfloat16_tensor():
    value = torch.tensor([1.0, 0.5, -3.0], dtype=torch.bfloat16)  # exactly representable in bf16
    back = round_trip(value)
    assert isinstance(back, torch.Tensor)
    assert back.dtype == torch.bfloat16  # the dtype the learner returned, so a check can say so
    assert back.shape == (3,)
    torch.testing.assert_close(back, value)


def test_torch_tensor_requiring_grad_and_parameter():
    value = torch.nn.Parameter(torch.ones(2, 2))
    back = round_trip(value)
    assert type(back) is torch.Tensor and not back.requires_grad
    assert back.shape == (2, 2)
    torch.testing.assert_close(back, torch.ones(2, 2))


def test_torch_int_tensor():
    back = round_trip(torch.arange(4))
    assert back.dtype == torch.int64
    assert back.tolist() == [0, 1, 2, 3]


def test_lambda_is_unsupported():
    back = round_trip(lambda x: x)
    assert isinstance(back, Unsupported)
    assert back.type_name == "function"
    assert "lambda" in back.text


def test_unsupported_inside_a_list():
    back = round_trip([1, object()])
    assert back[0] == 1
    assert isinstance(back[1], Unsupported)
    assert back[1].type_name == "object"


def test_too_deep_is_refused():
    value: list = []
    for _ in range(60):
        value = [value]
    with pytest.raises(ValueError, match="50 levels"):
        encode(value)


@pytest.mark.parametrize("data", [{"a": 1}, {}, {"__tuple__": [1], "extra": 2}, {"__pickle__": "x"},
                                  [{"nested": True}]])
def test_decode_rejects_untagged_dicts(data):
    with pytest.raises(ValueError, match="not plain data"):
        decode(data)
