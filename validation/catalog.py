"""The validation cases, in the order of the page.

:mod:`validation.queueing_cases` holds the single stations and the Jackson networks,
:mod:`validation.system_cases` the fork-join, the chain of calls, the retries, Little's law and
the interval coverage. A new case is a scenario file in ``validation/scenarios/`` and a
function returning its :class:`~validation.cases.Case`, listed in one of those tuples.
"""

from __future__ import annotations

from validation.cases import Case
from validation.queueing_cases import QUEUEING_CASES
from validation.system_cases import SYSTEM_CASES

__all__ = ["CASES"]

CASES: tuple[Case, ...] = (*QUEUEING_CASES, *SYSTEM_CASES)
