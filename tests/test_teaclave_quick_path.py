"""The warm invocation's quick path (Executor.invoke without files): the
packed arguments reused while the same plain arguments come again, the
one-number return of ``pw_teaclave_invoke_kept``, and results made lazily.

Whatever is cached, an invocation must see exactly what an executor that
never saw other arguments would give.
"""

from __future__ import annotations

import dataclasses
import pickle
import random
import threading
from collections import OrderedDict
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
from helpers import example

from pywamr import teaclave
from pywamr.teaclave._arguments import pack

ADDER = example("adder").read_bytes()  # returns atoi(a) + atoi(b), -1 if one is missing


class Text(str):
    """Equal to the plain string, but packed as JSON text (it is not a str)."""


@pytest.fixture(params=["teaclave", "strict"])
def executor(request: pytest.FixtureRequest) -> Iterator[teaclave.Executor]:
    with teaclave.Executor(ADDER, profile=request.param) as executor:
        yield executor


def fresh(executor: teaclave.Executor, arguments: Any) -> teaclave.RunResult:
    """What an executor that never saw other arguments gives."""
    with teaclave.Executor(ADDER, profile=executor.profile.name) as other:
        return other.invoke(arguments)


def test_the_same_dict_changed_in_place(executor: teaclave.Executor) -> None:
    arguments: dict[str, Any] = {"a": "40", "b": "2"}
    assert executor.run(arguments) == 42
    assert executor.run(arguments) == 42
    arguments["a"] = "1"
    assert executor.run(arguments) == 3
    del arguments["b"]
    assert executor.run(arguments) == -1
    arguments["b"] = 7
    assert executor.run(arguments) == 8
    arguments["b"] = "7"  # the same text as the int: the same packing either way
    assert executor.run(arguments) == 8


@pytest.mark.parametrize("changed", [
    {"a": Text("40"), "b": "2"},  # equal to the cached dict, packed differently
    {"a": True, "b": "2"},        # True == 1
    {"a": 1.0, "b": "2"},         # 1.0 == 1
    {"a": 1, "b": "2"},
])
def test_equal_but_differently_packed_values(executor: teaclave.Executor,
                                             changed: dict[str, Any]) -> None:
    plain = {"a": "40", "b": "2"} if isinstance(changed["a"], str) else {"a": 1, "b": "2"}
    assert changed == plain
    executor.invoke(plain)
    executor.invoke(plain)
    assert executor.invoke(changed) == fresh(executor, changed)
    assert executor.invoke(plain) == fresh(executor, plain)


def test_other_mappings(executor: teaclave.Executor) -> None:
    executor.run({"a": "40", "b": "2"})
    for arguments in (OrderedDict(a="5", b="6"), MappingProxyType({"a": "5", "b": "6"})):
        assert executor.run(arguments) == 11
    assert executor.run({"a": "40", "b": "2"}) == 42
    assert executor.run(None) == -1
    assert executor.run({}) == -1


def test_large_arguments(executor: teaclave.Executor) -> None:
    big = {"a": "3", "b": "4", "padding": "x" * (1 << 17)}  # past the cached size
    assert executor.run(big) == 7
    big["a"] = "5"
    assert executor.run(big) == 9


def test_refused_arguments_are_refused_every_time(executor: teaclave.Executor) -> None:
    assert executor.run({"a": "1", "b": "2"}) == 3
    for bad in ({"a": "1\0", "b": "2"}, {1: "1"}, ["a", "1"]):
        for _ in range(2):
            with pytest.raises((ValueError, TypeError)):
                executor.run(bad)  # type: ignore[arg-type]
    assert executor.run({"a": "1", "b": "2"}) == 3


def test_packing_matches_a_fresh_packing_over_random_changes(
        executor: teaclave.Executor) -> None:
    rng = random.Random(1414)
    serde = executor.profile.serde_arguments
    values: list[Any] = ["1", "22", 3, -4, True, False, None, 2.5, Text("1"), "1", [1, "x"],
                         {"k": "v"}, 1 << 70, "é"]
    arguments: dict[Any, Any] = {}
    for _ in range(600):
        roll = rng.random()
        if roll < 0.4 or not arguments:
            arguments[rng.choice("abcdef")] = rng.choice(values)
        elif roll < 0.55:
            del arguments[rng.choice(list(arguments))]
        elif roll < 0.7:
            arguments = dict(arguments)  # a new, equal dict
        elif roll < 0.8:
            arguments = {key: (Text(value) if isinstance(value, str) else value)
                         for key, value in arguments.items()}
        count, data = pack(arguments, serde)
        assert executor._pack(arguments) == (count, data, len(data)), arguments


def test_the_quick_result_makes_every_container() -> None:
    # RunResult._returned makes exactly the fields that have a default factory
    made = {f.name for f in dataclasses.fields(teaclave.RunResult)
            if f.default_factory is not dataclasses.MISSING}
    assert made == {"file_errors", "outputs", "output_tags"}
    one, two = teaclave.RunResult._returned(1), teaclave.RunResult._returned(1)
    for name in made:
        assert getattr(one, name) is not getattr(two, name)


def test_threads_with_their_own_arguments(executor: teaclave.Executor) -> None:
    failures: list[str] = []

    def worker(base: int) -> None:
        for i in range(200):
            arguments = {"a": str(base), "b": str(i)}
            value = executor.run(arguments)
            if value != base + i:
                failures.append(f"{arguments}: {value}")

    threads = [threading.Thread(target=worker, args=(1000 * (n + 1),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_quick_results_are_whole_results(executor: teaclave.Executor) -> None:
    first, second = executor.invoke({"a": "40", "b": "2"}), executor.invoke({"a": "1", "b": "1"})
    assert first == teaclave.RunResult(return_value=42)
    assert vars(first) == vars(teaclave.RunResult(return_value=42))  # same fields, same order
    assert list(vars(first)) == list(vars(teaclave.RunResult(return_value=42)))
    assert (first.ok, first.summary, first.unwrap()) == (True, "42", 42)
    assert (first.trap, first.timed_out, first.stdout, first.files_left_open) == (None, False,
                                                                                  b"", 0)
    assert (first.file_errors, first.outputs, first.output_tags) == ([], {}, {})
    first.file_errors.append("mine")  # each result has its own containers
    assert second.file_errors == []
    assert "mine" in repr(first)
    copy = pickle.loads(pickle.dumps(second))
    assert copy == second and copy.return_value == 2
    with pytest.raises(AttributeError):
        _ = first.no_such_field  # type: ignore[attr-defined]

