"""Tests for jobdeck.core.registry: schema derivation, validation, to_kwargs, the registry."""

import asyncio
import copy
import json
import math
import pickle
from collections.abc import Mapping
from enum import Enum, IntEnum
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobdeck.core.job import Job, JobStatus
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.core.registry import (
    REQUIRED,
    Exists,
    JobKind,
    JobRegistry,
    JobType,
    Param,
    ParamError,
    ParamKind,
    ParamSpec,
    reattachable,
    retry_allowed,
)


class Algorithm(Enum):
    SHA256 = "sha256"
    MD5 = "md5"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


def checksum(ctx, folder: Path, algorithm: Algorithm = Algorithm.SHA256) -> dict:
    """Checksum every file
    under a folder.

    The second paragraph is not part of the description.
    """
    return {"folder": folder, "algorithm": algorithm}


async def fetch(
    ctx,
    urls: list[str],
    limit: Annotated[int, Param(label="Parallel", help="Requests at once", min=1, max=32)] = 4,
) -> dict:
    return {"urls": urls, "limit": limit}


def everything(
    ctx,
    name: str,
    count: int,
    ratio: float,
    flag: bool,
    where: Path,
    algo: Algorithm,
    items: list[int],
    paths: list[Path],
    algos: list[Algorithm],
    env: dict[str, str],
) -> None:
    """Takes one parameter of every kind."""


def one_param(annotation: Any, default: Any = REQUIRED) -> JobType:
    """A job type whose single parameter ``value`` has ``annotation`` (and ``default``)."""
    ns: dict[str, Any] = {}
    exec("def work(ctx, value): pass", ns)
    work = ns["work"]
    work.__annotations__ = {"value": annotation}
    if default is not REQUIRED:
        work.__defaults__ = (default,)
    return JobType.from_function("one", work)


@pytest.fixture
def registry() -> JobRegistry:
    reg = JobRegistry()
    reg.register("checksum", checksum, title="Checksum files", icon="hash")
    reg.register("fetch", fetch, title="Fetch pages", retryable=True)
    return reg


# --- signature derivation ---------------------------------------------------------------


def test_decorator_registers_and_returns_the_function_unchanged() -> None:
    reg = JobRegistry()

    @reg.job_type("checksum", title="Checksum files", icon="hash")
    def work(ctx, folder: Path) -> None:
        pass

    assert work.__name__ == "work"
    assert reg["checksum"].func is work
    assert reg["checksum"].title == "Checksum files"
    assert reg["checksum"].icon == "hash"


def test_each_annotation_maps_to_its_kind() -> None:
    job = JobType.from_function("everything", everything)
    kinds = {p.name: (p.kind, p.item_kind) for p in job.params}
    assert kinds == {
        "name": (ParamKind.STR, None),
        "count": (ParamKind.INT, None),
        "ratio": (ParamKind.FLOAT, None),
        "flag": (ParamKind.BOOL, None),
        "where": (ParamKind.PATH, None),
        "algo": (ParamKind.ENUM, None),
        "items": (ParamKind.LIST, ParamKind.INT),
        "paths": (ParamKind.LIST, ParamKind.PATH),
        "algos": (ParamKind.LIST, ParamKind.ENUM),
        "env": (ParamKind.MAPPING, None),
    }
    assert [p.name for p in job.params] == list(kinds)  # signature order, ctx left out
    assert all(p.required for p in job.params)


def test_enum_params_carry_choices_and_enum_type() -> None:
    job = JobType.from_function("everything", everything)
    for name in ("algo", "algos"):
        spec = job.param(name)
        assert spec is not None
        assert spec.choices == ("sha256", "md5")
        assert spec.enum_type is Algorithm
    other = job.param("items")
    assert other is not None
    assert other.choices == ()
    assert other.enum_type is None


def test_int_enum_choices_are_strings() -> None:
    spec = one_param(Level).params[0]
    assert spec.choices == ("1", "2")


def test_mapping_annotation_from_collections_abc() -> None:
    assert one_param(Mapping[str, str]).params[0].kind is ParamKind.MAPPING


def test_defaults_are_kept_in_json_form() -> None:
    checksum_type = JobType.from_function("checksum", checksum)
    folder, algorithm = checksum_type.params
    assert folder.default is REQUIRED
    assert folder.required
    assert algorithm.default == "sha256"
    assert not algorithm.required
    assert one_param(Path, Path("/tmp/x")).params[0].default == "/tmp/x"
    assert one_param(Level, Level.HIGH).params[0].default == 2
    assert one_param(list[Algorithm], [Algorithm.MD5]).params[0].default == ["md5"]
    assert one_param(list[int], (1, 2)).params[0].default == [1, 2]


def test_annotated_metadata_sets_label_help_and_bounds() -> None:
    limit = JobType.from_function("fetch", fetch).params[1]
    assert limit.label == "Parallel"
    assert limit.help == "Requests at once"
    assert (limit.minimum, limit.maximum) == (1, 32)
    assert limit.default == 4


def test_label_defaults_to_the_name_humanized() -> None:
    def work(ctx, max_depth: int, URL_list: list[str]) -> None:
        pass

    labels = [p.label for p in JobType.from_function("w", work).params]
    assert labels == ["Max depth", "URL list"]
    assert JobType.from_function("w", work).params[0].help == ""


def test_annotated_without_param_metadata_is_plain() -> None:
    spec = one_param(Annotated[int, "something else"]).params[0]
    assert spec.kind is ParamKind.INT
    assert spec.label == "Value"


def test_sync_and_async_functions_are_told_apart() -> None:
    assert JobType.from_function("checksum", checksum).is_async is False
    assert JobType.from_function("fetch", fetch).is_async is True


def test_description_is_the_first_docstring_paragraph() -> None:
    assert JobType.from_function("c", checksum).description == (
        "Checksum every file under a folder."
    )
    assert JobType.from_function("f", fetch).description == ""
    explicit = JobType.from_function("c", checksum, description="Mine")
    assert explicit.description == "Mine"


def test_title_icon_and_retryable_defaults() -> None:
    job = JobType.from_function("fetch_pages", fetch)
    assert job.title == "Fetch pages"
    assert job.icon == "job"
    assert job.retryable is False
    assert JobType.from_function("f", fetch, retryable=True).retryable is True


def test_string_annotations_resolve_even_when_ctx_type_does_not() -> None:
    source = (
        "from __future__ import annotations\n"
        "from pathlib import Path\n"
        "from typing import TYPE_CHECKING, Annotated\n"
        "from jobdeck.core.registry import Param\n"
        "if TYPE_CHECKING:\n"
        "    from jobdeck.core.context import JobContext\n"
        "def work(ctx: JobContext, folder: Path,\n"
        "         n: Annotated[int, Param(min=1)] = 2) -> NotDefinedEither:\n"
        "    pass\n"
    )
    ns: dict[str, Any] = {}
    exec(compile(source, "<jobs>", "exec", dont_inherit=True), ns)
    job = JobType.from_function("w", ns["work"])
    assert [(p.name, p.kind, p.minimum) for p in job.params] == [
        ("folder", ParamKind.PATH, None),
        ("n", ParamKind.INT, 1),
    ]


def test_forward_references_inside_annotation_objects_resolve() -> None:
    # (Annotations that are objects already are used as they are; names left in them, as
    # strings, are still looked up in the function's module.)
    source = (
        "from pathlib import Path\n"
        "from typing import Annotated\n"
        "from jobdeck.core.registry import Param\n"
        "def work(ctx: 'NotDefined', files: list['Path'],\n"
        "         n: Annotated['int', Param(min=1)] = 2, p: Path = Path()) -> None:\n"
        "    pass\n"
    )
    ns: dict[str, Any] = {}
    exec(compile(source, "<jobs>", "exec", dont_inherit=True), ns)
    job = JobType.from_function("w", ns["work"])
    assert [(p.name, p.kind, p.item_kind, p.minimum) for p in job.params] == [
        ("files", ParamKind.LIST, ParamKind.PATH, None),
        ("n", ParamKind.INT, None, 1),
        ("p", ParamKind.PATH, None, None),
    ]


@pytest.mark.parametrize(
    "annotation",
    [set[int], int | None, list, dict, dict[str, int], list[list[str]], bytes, object],
    ids=repr,
)
def test_unsupported_annotation_names_function_and_parameter(annotation: Any) -> None:
    with pytest.raises(TypeError, match=r"work: parameter 'value' has unsupported type"):
        one_param(annotation)


def test_missing_annotation_is_a_type_error() -> None:
    def work(ctx, folder) -> None:
        pass

    with pytest.raises(TypeError, match=r"work: parameter 'folder' has no type annotation"):
        JobType.from_function("w", work)


def test_unresolvable_annotation_is_a_type_error() -> None:
    ns: dict[str, Any] = {}
    exec("from __future__ import annotations\ndef work(ctx, x: Missing): pass", ns)
    with pytest.raises(TypeError, match=r"work: parameter 'x' .*cannot be resolved.*Missing"):
        JobType.from_function("w", ns["work"])


def test_star_args_positional_only_and_missing_ctx_are_refused() -> None:
    def star(ctx, *values: int) -> None:
        pass

    def kwargs(ctx, **values: int) -> None:
        pass

    def positional(ctx, value: int, /) -> None:
        pass

    def no_ctx() -> None:
        pass

    def keyword_ctx(*, ctx) -> None:
        pass

    with pytest.raises(TypeError, match=r"star: parameter 'values' cannot be \*args"):
        JobType.from_function("w", star)
    with pytest.raises(TypeError, match=r"kwargs: parameter 'values' cannot be"):
        JobType.from_function("w", kwargs)
    with pytest.raises(TypeError, match=r"positional: parameter 'value' is positional-only"):
        JobType.from_function("w", positional)
    for func in (no_ctx, keyword_ctx):
        with pytest.raises(TypeError, match=r"must take the job context \(ctx\)"):
            JobType.from_function("w", func)


@pytest.mark.parametrize(
    ("annotation", "default", "message"),
    [
        (str, None, r"invalid default None: value: expected a string"),
        (Annotated[int, Param(min=1)], 0, r"value: must be at least 1, got 0"),
        (Algorithm, "sha1", r"expected one of sha256, md5"),
        (list[int], [1, "x"], r"value\[1\]: expected an integer"),
    ],
)
def test_invalid_default_is_a_type_error_at_registration(
    annotation: Any, default: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=rf"work: parameter 'value' .*{message}"):
        one_param(annotation, default)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Annotated[str, Param(min=1)], r"min/max only apply to numbers, not str"),
        (Annotated[list[Path], Param(max=3)], r"min/max only apply to numbers, not path"),
        (Annotated[int, Param(min=5, max=1)], r"min 5 is greater than max 1"),
    ],
)
def test_bad_param_metadata_is_a_type_error(annotation: Any, message: str) -> None:
    with pytest.raises(TypeError, match=rf"work: parameter 'value' .*{message}"):
        one_param(annotation)


def test_enum_with_unsupported_values_is_refused() -> None:
    class Ratio(Enum):
        HALF = 0.5

    with pytest.raises(TypeError, match=r"parameter 'value' .*Ratio values must be str or int"):
        one_param(Ratio)


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "given", "expected"),
    [
        (str, "hello", "hello"),
        (str, "", ""),
        (int, 3, 3),
        (int, 3.0, 3),
        (int, "42", 42),
        (int, " -7 ", -7),
        (int, "1e3", 1000),
        (int, "4.0", 4),
        (float, 2, 2.0),
        (float, 2.5, 2.5),
        (float, "2.5", 2.5),
        (float, "-1e-3", -0.001),
        (bool, True, True),
        (bool, False, False),
        (bool, "true", True),
        (bool, "False", False),
        (Path, Path("/tmp/a"), "/tmp/a"),
        (Path, "relative/b", "relative/b"),
        (Algorithm, Algorithm.MD5, "md5"),
        (Algorithm, "md5", "md5"),
        (Level, Level.HIGH, 2),
        (Level, 2, 2),
        (Level, "2", 2),
        (list[str], ["a", "b"], ["a", "b"]),
        (list[str], ("a",), ["a"]),
        (list[str], [], []),
        (list[int], ["1", 2.0], [1, 2]),
        (list[Path], [Path("/x"), "y"], ["/x", "y"]),
        (list[Algorithm], [Algorithm.MD5, "sha256"], ["md5", "sha256"]),
        (dict[str, str], {"HOME": "/root"}, {"HOME": "/root"}),
        (dict[str, str], {}, {}),
    ],
)
def test_accepted_values_are_normalized_to_json_form(
    annotation: Any, given: Any, expected: Any
) -> None:
    result = one_param(annotation).validate({"value": given})
    assert result == {"value": expected}
    assert type(result["value"]) is type(expected)
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(
    ("annotation", "given", "message"),
    [
        (str, 5, "value: expected a string, got 5"),
        (str, None, "value: expected a string, got None"),
        (int, "abc", "value: expected an integer, got 'abc'"),
        (int, True, "value: expected an integer, got True"),
        (int, 2.5, "value: expected an integer, got 2.5"),
        (int, "2.5", "value: expected an integer, got '2.5'"),
        (int, math.inf, "value: expected an integer, got inf"),
        (int, None, "value: expected an integer, got None"),
        (float, "abc", "value: expected a finite number, got 'abc'"),
        (float, False, "value: expected a finite number, got False"),
        (float, math.nan, "value: expected a finite number, got nan"),
        (float, "inf", "value: expected a finite number, got 'inf'"),
        (bool, 1, "value: expected true or false, got 1"),
        (bool, "yes", "value: expected true or false, got 'yes'"),
        (Path, "", "value: expected a non-empty path, got ''"),
        (Path, 5, "value: expected a non-empty path, got 5"),
        (Algorithm, "sha1", "value: expected one of sha256, md5, got 'sha1'"),
        (Algorithm, "SHA256", "value: expected one of sha256, md5, got 'SHA256'"),
        (Algorithm, Level.LOW, "value: expected one of sha256, md5, got 1"),
        (Level, 3, "value: expected one of 1, 2, got 3"),
        (Level, True, "value: expected one of 1, 2, got True"),
        (list[str], "a,b", "value: expected a list, got 'a,b'"),
        (list[str], ["a", "b", 3], "value[2]: expected a string, got 3"),
        (list[Algorithm], ["md5", "x"], "value[1]: expected one of sha256, md5, got 'x'"),
        (dict[str, str], ["A=1"], "value: expected a mapping of strings to strings"),
        (dict[str, str], {"A": 1}, "value['A']: expected a string, got 1"),
        (dict[str, str], {1: "a"}, "value: keys must be strings, got 1"),
    ],
)
def test_rejected_values_name_the_field(annotation: Any, given: Any, message: str) -> None:
    with pytest.raises(ParamError) as info:
        one_param(annotation).validate({"value": given})
    assert str(info.value).startswith(message)
    assert info.value.field == message.split(":")[0]
    assert isinstance(info.value, ValueError)


def test_example_message_from_the_issue(registry: JobRegistry) -> None:
    with pytest.raises(ValueError, match=r"^limit: expected an integer, got 'abc'$"):
        registry.validate("fetch", {"urls": [], "limit": "abc"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (0, "limit: must be at least 1, got 0"),
        (33, "limit: must be at most 32, got 33"),
        ("40", "limit: must be at most 32, got 40"),
    ],
)
def test_out_of_bounds_names_the_field(registry: JobRegistry, given: Any, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{message}$"):
        registry.validate("fetch", {"urls": [], "limit": given})


def test_bounds_are_inclusive(registry: JobRegistry) -> None:
    for limit in (1, 32):
        assert registry.validate("fetch", {"urls": [], "limit": limit})["limit"] == limit


def test_float_bounds_and_list_item_bounds() -> None:
    ratio = one_param(Annotated[float, Param(min=0, max=0.5)])
    assert ratio.validate({"value": "0.5"}) == {"value": 0.5}
    with pytest.raises(ValueError, match=r"^value: must be at most 0.5, got 0.75$"):
        ratio.validate({"value": 0.75})
    sizes = one_param(Annotated[list[int], Param(min=1)])
    with pytest.raises(ValueError, match=r"^value\[1\]: must be at least 1, got 0$"):
        sizes.validate({"value": [3, 0]})


def test_missing_required_field_is_named(registry: JobRegistry) -> None:
    with pytest.raises(ParamError, match=r"^folder: Folder is required$") as info:
        registry.validate("checksum", {"algorithm": "md5"})
    assert info.value.field == "folder" and info.value.problem == "Folder is required"


def test_missing_message_is_per_parameter() -> None:
    spec = one_param(Annotated[str, Param(label="Command", missing="Enter a command")])
    with pytest.raises(ParamError) as info:
        spec.validate({})
    assert str(info.value) == "value: Enter a command"
    assert info.value.problem == "Enter a command"
    assert ParamSpec("dest", ParamKind.PATH, label="Save to").missing == "Save to is required"


def test_unknown_field_is_named_with_the_known_ones(registry: JobRegistry) -> None:
    with pytest.raises(ParamError) as info:
        registry.validate("checksum", {"folder": "/x", "recursive": True})
    assert info.value.field == "recursive"
    assert str(info.value) == (
        "recursive: unknown parameter of checksum (known: folder, algorithm)"
    )


def test_params_must_be_a_mapping(registry: JobRegistry) -> None:
    with pytest.raises(ValueError, match=r"checksum: params must be a mapping, got \['/x'\]"):
        registry["checksum"].validate(["/x"])  # type: ignore[arg-type]


def test_defaults_are_filled_in_schema_order(registry: JobRegistry) -> None:
    result = registry.validate("checksum", {"folder": Path("/data")})
    assert list(result.items()) == [("folder", "/data"), ("algorithm", "sha256")]


def test_default_lists_are_not_shared_between_results() -> None:
    job = one_param(list[str], ["a"])
    first = job.validate({})
    first["value"].append("b")
    assert job.validate({}) == {"value": ["a"]}
    assert job.params[0].default == ["a"]


def test_validate_is_idempotent(registry: JobRegistry) -> None:
    once = registry.validate("checksum", {"folder": Path("/d"), "algorithm": Algorithm.MD5})
    assert registry.validate("checksum", once) == once


def test_registry_validate_accepts_none_and_refuses_unknown_types(registry: JobRegistry) -> None:
    reg = JobRegistry()
    reg.register("noop", lambda ctx: None)
    assert reg.validate("noop", None) == {}
    with pytest.raises(ValueError, match=r"unknown job type 'nope'; known types: checksum, fetch"):
        registry.validate("nope", {})


@given(st.integers(min_value=1, max_value=32))
def test_any_in_bounds_integer_round_trips_through_its_string(n: int) -> None:
    job = JobType.from_function("fetch", fetch)
    assert job.validate({"urls": [], "limit": str(n)})["limit"] == n


@given(st.lists(st.text()), st.dictionaries(st.text(), st.text()))
def test_lists_and_mappings_survive_json(urls: list[str], env: dict[str, str]) -> None:
    def work(ctx, urls: list[str], env: dict[str, str]) -> None:
        pass

    job = JobType.from_function("w", work)
    stored = json.loads(json.dumps(job.validate({"urls": urls, "env": env})))
    assert job.to_kwargs(stored) == {"urls": urls, "env": env}


# --- to_kwargs --------------------------------------------------------------------------


def test_to_kwargs_round_trips_python_values_through_json() -> None:
    job = JobType.from_function("everything", everything)
    python = {
        "name": "n",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "where": Path("/tmp/w"),
        "algo": Algorithm.MD5,
        "items": [1, 2],
        "paths": [Path("a"), Path("/b")],
        "algos": [Algorithm.SHA256],
        "env": {"K": "V"},
    }
    stored = json.loads(json.dumps(job.validate(python)))
    kwargs = job.to_kwargs(stored)
    assert kwargs == python
    assert isinstance(kwargs["where"], Path)
    assert kwargs["algo"] is Algorithm.MD5
    assert all(isinstance(p, Path) for p in kwargs["paths"])
    assert kwargs["algos"][0] is Algorithm.SHA256


def test_to_kwargs_fills_defaults_and_calls_the_function(registry: JobRegistry) -> None:
    job = registry["checksum"]
    result = job.func(None, **job.to_kwargs({"folder": "/data"}))
    assert result == {"folder": Path("/data"), "algorithm": Algorithm.SHA256}
    assert job.to_kwargs({"folder": "/d", "algorithm": "md5"})["algorithm"] is Algorithm.MD5
    assert one_param(Level).to_kwargs({"value": "2"}) == {"value": Level.HIGH}


def test_to_kwargs_runs_a_coroutine_job(registry: JobRegistry) -> None:
    job = registry["fetch"]
    assert job.is_async
    result = asyncio.run(job.func(None, **job.to_kwargs({"urls": ("u",)})))
    assert result == {"urls": ["u"], "limit": 4}


def test_to_kwargs_validates(registry: JobRegistry) -> None:
    with pytest.raises(ValueError, match=r"^limit: must be at least 1, got 0$"):
        registry["fetch"].to_kwargs({"urls": [], "limit": 0})


# --- the registry -----------------------------------------------------------------------


def test_registering_the_same_name_twice_is_a_value_error(registry: JobRegistry) -> None:
    with pytest.raises(ValueError, match=r"job type 'checksum' is already registered"):
        registry.register("checksum", fetch)
    with pytest.raises(ValueError, match=r"job type 'fetch' is already registered"):
        registry.add(JobType.from_function("fetch", fetch))
    with pytest.raises(ValueError, match=r"already registered"):
        registry.job_type("fetch")(fetch)
    assert registry["fetch"].func is fetch
    assert len(registry) == 2


def test_registration_failure_leaves_the_registry_unchanged(registry: JobRegistry) -> None:
    def bad(ctx, values: set[str]) -> None:
        pass

    with pytest.raises(TypeError, match=r"bad: parameter 'values'"):
        registry.register("bad", bad)
    assert "bad" not in registry


def test_lookup_and_iteration(registry: JobRegistry) -> None:
    assert "checksum" in registry
    assert "nope" not in registry
    assert registry.get("nope") is None
    assert registry.get("fetch") is registry["fetch"]
    assert [t.name for t in registry] == ["checksum", "fetch"]
    assert registry.names() == ["checksum", "fetch"]
    assert len(registry) == 2


def test_unknown_name_key_error_lists_known_names(registry: JobRegistry) -> None:
    with pytest.raises(KeyError, match=r"unknown job type 'nope'; known types: checksum, fetch"):
        registry["nope"]
    with pytest.raises(KeyError, match=r"no job types are registered"):
        JobRegistry()["nope"]


def test_is_retryable(registry: JobRegistry) -> None:
    assert registry.is_retryable("fetch") is True
    assert registry.is_retryable("checksum") is False
    assert registry.is_retryable("nope") is False


def test_registries_are_independent(registry: JobRegistry) -> None:
    assert len(JobRegistry()) == 0
    assert registry.names() == ["checksum", "fetch"]


def test_add_a_prebuilt_job_type() -> None:
    def run_command(ctx, **params: Any) -> None:
        pass

    command = JobType(
        name="command",
        title="Run a command",
        description="Runs a program.",
        icon="terminal",
        params=[  # type: ignore[arg-type]  # a list is accepted, stored as a tuple
            ParamSpec("argv", ParamKind.LIST, item_kind=ParamKind.STR),
            ParamSpec("cwd", ParamKind.PATH, default="."),
            ParamSpec("env", ParamKind.MAPPING, default={}),
            ParamSpec("shell", ParamKind.BOOL, label="Use a shell", default=False),
        ],
        retryable=False,
        func=run_command,
        kind=JobKind.CALLABLE,
    )
    reg = JobRegistry()
    reg.add(command)
    assert isinstance(reg["command"].params, tuple)
    assert reg.validate("command", {"argv": ["ls", "-l"]}) == {
        "argv": ["ls", "-l"],
        "cwd": ".",
        "env": {},
        "shell": False,
    }
    with pytest.raises(TypeError, match=r"expected a JobType, got dict"):
        reg.add({"name": "x"})  # type: ignore[arg-type]


def test_job_type_refuses_bad_names_and_duplicate_params() -> None:
    spec = ParamSpec("x", ParamKind.STR)
    base: dict[str, Any] = dict(
        title="T", description="", icon="job", retryable=False, func=print, kind="callable"
    )
    for name in ("", "two words", None):
        with pytest.raises(ValueError, match=r"job type name must be a non-empty word"):
            JobType(name=name, params=(), **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"duplicate parameter names"):
        JobType(name="dup", params=(spec, spec), **base)


# --- ParamSpec built by hand -------------------------------------------------------------


def test_hand_built_enum_spec_uses_string_choices() -> None:
    spec = ParamSpec("mode", ParamKind.ENUM, choices=("fast", "safe"), default="safe")
    assert spec.label == "Mode"
    assert spec.normalize("fast") == "fast"
    assert spec.to_python("fast") == "fast"
    with pytest.raises(ParamError, match=r"^mode: expected one of fast, safe, got 'slow'$"):
        spec.normalize("slow")


def test_hand_built_spec_normalizes_its_default_and_is_hashable() -> None:
    spec = ParamSpec("algo", ParamKind.ENUM, enum_type=Algorithm, default=Algorithm.MD5)
    assert spec.choices == ("sha256", "md5")
    assert spec.default == "md5"
    assert spec.kind is ParamKind.ENUM
    listed = ParamSpec("tags", "list", item_kind="str", default=["a"])  # type: ignore[arg-type]
    assert listed.kind is ParamKind.LIST and listed.item_kind is ParamKind.STR
    assert len({spec, listed, ParamSpec("tags", ParamKind.LIST, item_kind=ParamKind.STR)}) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="not valid", kind=ParamKind.STR), r"must be a Python identifier"),
        (dict(name="x", kind="colour"), r"'colour' is not a valid ParamKind"),
        (dict(name="x", kind=ParamKind.LIST), r"x: a list needs an item_kind"),
        (
            dict(name="x", kind=ParamKind.LIST, item_kind=ParamKind.LIST),
            r"x: a list needs an item_kind",
        ),
        (dict(name="x", kind=ParamKind.STR, item_kind=ParamKind.STR), r"only applies to lists"),
        (dict(name="x", kind=ParamKind.ENUM), r"x: an enum needs a non-empty tuple"),
        (dict(name="x", kind=ParamKind.STR, choices=("a",)), r"only apply to enums"),
        (
            dict(name="x", kind=ParamKind.ENUM, enum_type=Algorithm, choices=("a",)),
            r"do not match the enum values",
        ),
        (dict(name="x", kind=ParamKind.INT, default="many"), r"invalid default 'many'"),
        (dict(name="x", kind=ParamKind.STR, exists="file"), r"x: exists only applies to paths"),
        (
            dict(name="x", kind=ParamKind.PATH, exists="folder"),
            r"x: exists must be one of file, dir, any, got 'folder'",
        ),
    ],
)
def test_inconsistent_hand_built_spec_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ParamSpec(**kwargs)


def test_required_sentinel_survives_copy_and_pickle() -> None:
    assert repr(REQUIRED) == "REQUIRED"
    assert copy.deepcopy(REQUIRED) is REQUIRED
    assert pickle.loads(pickle.dumps(REQUIRED)) is REQUIRED
    spec = ParamSpec("x", ParamKind.STR)
    assert copy.deepcopy(spec).required


# --- paths that must exist when a job is queued --------------------------------------------


def test_existing_file_dir_or_either_are_checked_when_validated(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    missing = tmp_path / "gone"

    def work(
        ctx,
        script: Annotated[Path, Param(exists="file")],
        folder: Annotated[Path, Param(exists="dir")],
        either: Annotated[Path, Param(exists="any")],
        anything: Path = Path("/no/such/place"),  # not annotated: not checked
    ) -> None:
        pass

    job_type = JobType.from_function("work", work)
    assert [p.exists for p in job_type.params] == [Exists.FILE, Exists.DIR, Exists.ANY, None]
    good = {"script": str(a_file), "folder": str(tmp_path), "either": str(tmp_path)}
    assert job_type.validate(good)["script"] == str(a_file)
    assert job_type.validate({**good, "either": a_file})["either"] == str(a_file)

    cases = [
        ({"script": str(missing)}, "script", f"no such file: {missing}"),
        ({"script": str(tmp_path)}, "script", f"a folder, not a file: {tmp_path}"),
        ({"folder": str(missing)}, "folder", f"no such folder: {missing}"),
        ({"folder": str(a_file)}, "folder", f"not a folder: {a_file}"),
        ({"either": str(missing)}, "either", f"no such file or folder: {missing}"),
    ]
    for change, field, problem in cases:
        with pytest.raises(ParamError) as info:
            job_type.validate({**good, **change})
        assert (info.value.field, info.value.problem) == (field, problem)
        assert str(info.value) == f"{field}: {problem}"


def test_existing_path_expands_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    folder = one_param(Annotated[Path, Param(exists="dir")])
    assert folder.validate({"value": "~/data"}) == {"value": "~/data"}  # stored as given
    with pytest.raises(ParamError, match=r"^value: no such folder: ~/nope$"):
        folder.validate({"value": "~/nope"})


def test_each_item_of_a_list_of_existing_paths_is_checked(tmp_path: Path) -> None:
    files = one_param(Annotated[list[Path], Param(exists="any")])
    assert files.validate({"value": [str(tmp_path)]}) == {"value": [str(tmp_path)]}
    with pytest.raises(ParamError) as info:
        files.validate({"value": [str(tmp_path), str(tmp_path / "x")]})
    assert info.value.field == "value[1]"


def test_a_default_path_is_checked_when_queued_not_when_registered(tmp_path: Path) -> None:
    missing = tmp_path / "later"
    job_type = one_param(Annotated[Path, Param(exists="dir")], default=missing)
    with pytest.raises(ParamError, match=r"^value: no such folder"):
        job_type.validate({})
    missing.mkdir()
    assert job_type.validate({}) == {"value": str(missing)}


def test_default_title_is_the_type_title(registry: JobRegistry) -> None:
    assert registry["checksum"].default_title({"folder": "/x"}) == registry["checksum"].title


# --- kinds: callable, coroutine, process ---------------------------------------------------


def _build(job: Job, script: Path, times: int = 1) -> ProcessSpec:
    return ProcessSpec(("python3", str(script)), env={"TIMES": str(times)})


def test_the_kind_of_a_job_type_follows_its_function_or_is_said() -> None:
    assert JobType.from_function("checksum", checksum).kind is JobKind.CALLABLE
    assert JobType.from_function("fetch", fetch).kind is JobKind.COROUTINE
    build = JobType.from_function("script", _build, kind=JobKind.PROCESS)
    assert build.kind is JobKind.PROCESS
    assert [p.name for p in build.params] == ["script", "times"]
    with pytest.raises(ValueError, match=r"an async def cannot be a callable job type"):
        JobType.from_function("f", fetch, kind=JobKind.CALLABLE)
    with pytest.raises(ValueError, match=r"a plain function cannot be a coroutine job type"):
        JobType.from_function("f", checksum, kind="coroutine")
    with pytest.raises(ValueError, match=r"kind must be one of callable, coroutine, process"):
        JobType.from_function("f", checksum, kind="thread")


def test_a_process_job_type_builds_a_checked_process_spec(tmp_path: Path) -> None:
    build = JobType.from_function("script", _build, kind=JobKind.PROCESS)
    job = Job("j1", "script", "t", JobStatus.RUNNING, 0.0, params={"script": "/x.py", "times": 3})
    spec = build.process_spec(job)
    assert spec == ProcessSpec(("python3", "/x.py"), env={"TIMES": "3"})
    with pytest.raises(TypeError, match=r"'checksum' is a callable job type, not a process"):
        JobType.from_function("checksum", checksum).process_spec(job)

    def returns_a_mapping(job: Job) -> dict[str, Any]:
        return {"argv": ["true"], "shell": False}

    def returns_junk(job: Job) -> int:
        return 3

    bare = Job("j2", "m", "t", JobStatus.RUNNING, 0.0)
    assert JobType.from_function("m", returns_a_mapping, kind=JobKind.PROCESS).process_spec(
        bare
    ) == ProcessSpec(("true",))
    with pytest.raises(ValueError, match=r"must return a ProcessSpec, got int"):
        JobType.from_function("j", returns_junk, kind=JobKind.PROCESS).process_spec(bare)


def test_retry_and_reattach_decisions_come_from_the_type_and_the_job() -> None:
    callable_type = JobType.from_function("c", checksum, retryable=True)
    stubborn = JobType.from_function("s", checksum)
    process_type = JobType.from_function("p", _build, kind=JobKind.PROCESS)

    def job(attempts: int, max_attempts: int, log_path: str | None = None) -> Job:
        return Job(
            "j", "t", "t", JobStatus.RUNNING, 0.0,
            attempts=attempts, max_attempts=max_attempts, log_path=log_path,
        )  # fmt: skip

    assert retry_allowed(job(1, 3), callable_type)
    assert not retry_allowed(job(3, 3), callable_type)
    assert not retry_allowed(job(1, 3), stubborn)
    assert retry_allowed(job(1, 3), None)  # an unknown type: the job's own max_attempts
    assert not retry_allowed(job(1, 1), None)
    assert reattachable(job(1, 1, "/logs/j.log"), process_type)
    assert reattachable(job(1, 1), process_type)  # the runtime looks for its program
    assert not reattachable(job(1, 1, "/logs/j.log"), callable_type)
    assert reattachable(job(1, 1, "/logs/j.log"), None)  # its process record says what it is
    assert not reattachable(job(1, 1), None)  # nothing says it started a program


def test_a_job_type_may_ask_for_the_dask_executor_and_bad_asks_are_named() -> None:
    registry = JobRegistry()

    def work(ctx: object, n: int = 1) -> int:
        return n

    async def awork(ctx: object) -> None:
        return None

    assert registry.register("on-dask", work, executor="dask").executor == "dask"
    assert registry.register("here", work).executor is None
    with pytest.raises(ValueError, match="executor must be one of dask or None, got 'spark'"):
        registry.register("spark", work, executor="spark")
    with pytest.raises(ValueError, match="only a callable job type can run on executor 'dask'"):
        registry.register("async-dask", awork, executor="dask")


def test_the_registry_still_names_the_process_spec_which_it_imports_when_asked() -> None:
    import jobdeck.core.registry as registry

    assert registry.ProcessSpec is ProcessSpec
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        registry.NoSuchName  # noqa: B018
