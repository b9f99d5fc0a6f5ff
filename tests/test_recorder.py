"""The run's recorder (sim/kernel/recorder.py): typed columns, label columns, frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.kernel.recorder import Recorder


def test_each_type_code_gives_its_column_type() -> None:
    table = Recorder().table("t", {"f": "d", "n": "q", "p": "i", "flag": "b", "who": "s"})
    table.append(0.5, 2**40, 7, 1, "a")
    table.append(1.5, -3, 2**31 - 1, 0, None)
    frame = table.frame()
    assert [str(frame[c].dtype) for c in ("f", "n", "p", "flag")] == [
        "float64",
        "int64",
        "int32",
        "int8",
    ]
    assert frame["n"].tolist() == [2**40, -3]
    assert frame["p"].tolist() == [7, 2**31 - 1]
    assert frame["who"].tolist()[0] == "a" and frame["who"].isna().tolist() == [False, True]


def test_a_number_too_wide_for_its_column_is_an_error_not_a_wrapped_value() -> None:
    table = Recorder().table("t", {"p": "i"})
    with pytest.raises(OverflowError):
        table.append(2**31)


def test_an_unknown_type_code_is_refused() -> None:
    with pytest.raises(ValueError, match="type code"):
        Recorder().table("t", {"x": "h"})


@given(st.permutations(range(300)), st.integers(0, 300), st.lists(st.integers(0, 299) | st.none()))
def test_a_label_column_widens_as_labels_are_added(order, distinct, picks):
    # ``distinct`` labels first seen in a shuffled order (past 127 the codes need two bytes),
    # then repeats and missing values
    names = [f"label {i:03d}" for i in order[:distinct]]
    labels = names + [None if p is None or not names else names[p % len(names)] for p in picks]
    table = Recorder().table("t", {"who": "s"})
    for label in labels:
        table.append(label)
    column = table.frame()["who"]
    assert column.astype(object).where(column.notna(), None).tolist() == labels
    assert list(column.cat.categories) == sorted(names)


def test_a_label_column_of_forty_thousand_labels_keeps_every_one() -> None:
    labels = [f"n{i:05d}" for i in range(40_000)] + ["n00003", None, "n39999"]
    table = Recorder().table("t", {"who": "s"})
    for label in labels:
        table.append(label)
    column = table.frame()["who"]
    assert column.cat.codes.dtype == np.int16 or column.cat.codes.dtype == np.int32
    assert column.astype(object).where(column.notna(), None).tolist() == labels
