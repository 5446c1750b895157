"""Backend lookup by name, the scripted fake backend, structured output parsing."""

import asyncio

import pytest
from pydantic import BaseModel

from judge.backends import BACKENDS, BackendEntry, BackendUnavailable, YesNoQuestion, get_backend, parse_model_spec
from judge.backends.base import Backend, GenerationError
from judge.backends.fake import FakeBackend
from judge.backends.structured import parse_structured


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ("local", "", {})),
        ("fake:yes", ("fake", "yes", {})),
        ("fake:random:7?delay=0.5", ("fake", "random:7", {"delay": "0.5"})),
        ("local:./models/judge", ("local", "./models/judge", {})),
        ("Qwen/Qwen2.5-7B-Instruct", ("local", "Qwen/Qwen2.5-7B-Instruct", {})),
        ("/abs/path/model", ("local", "/abs/path/model", {})),
    ],
)
def test_model_specs(spec, expected):
    assert parse_model_spec(spec) == expected


def question(text):
    return YesNoQuestion(({"role": "user", "content": text},))


def test_fake_backends_from_the_cli_names():
    yes, no = get_backend("fake:yes"), get_backend("fake:no")
    assert isinstance(yes, Backend)
    assert [s.p_yes for s in asyncio.run(yes.p_yes([question("a"), question("b")]))] == [1.0, 1.0]
    assert [s.p_yes for s in asyncio.run(no.p_yes([question("a")]))] == [0.0]


def test_fake_random_is_seeded_and_order_independent():
    qs = [question(str(i)) for i in range(20)]
    first = [s.p_yes for s in asyncio.run(get_backend("fake:random:3").p_yes(qs))]
    again = [s.p_yes for s in asyncio.run(get_backend("fake:random:3").p_yes(list(reversed(qs))))]
    other = [s.p_yes for s in asyncio.run(get_backend("fake:random:4").p_yes(qs))]
    assert first == list(reversed(again)) and first != other
    assert all(0 <= p < 1 for p in first) and len(set(first)) == 20


def test_unknown_fake_and_bad_option():
    with pytest.raises(ValueError, match="unknown fake backend"):
        get_backend("fake:maybe")
    with pytest.raises(ValueError, match="takes no options"):
        get_backend("fake:yes?temperature=1")


def test_missing_sdk_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(BACKENDS, "vapour", BackendEntry("no_such_sdk_module_xyz", "X", "pip install vapour"))
    with pytest.raises(
        BackendUnavailable, match="needs the package 'no_such_sdk_module_xyz'; install it with: pip install vapour"
    ):
        get_backend("vapour:model")


class Answer(BaseModel):
    satisfied: bool


def test_structured_generation_with_the_fake_backend():
    backend = FakeBackend(text='Sure! ```json\n{"satisfied": true}\n``` done')
    assert asyncio.run(backend.generate([{"role": "user", "content": "?"}], schema=Answer)) == Answer(satisfied=True)


def test_structured_parse_failures_carry_the_text():
    with pytest.raises(GenerationError, match="no JSON object") as info:
        parse_structured("no json here", Answer)
    assert info.value.text == "no json here"
    with pytest.raises(GenerationError, match="does not match Answer"):
        parse_structured('{"satisfied": "perhaps"}', Answer)


def test_open_backend_keeps_user_and_program_api_options_apart():
    from judge.models import open_backend

    with pytest.raises(ValueError, match="--base-url applies to API models only"):
        open_backend("fake:yes", api_options={"base_url": ["http://127.0.0.1:9/v1"]}, cache=False)
    backend = open_backend("fake:yes", api_settings={"concurrency": 8}, cache=False)  # the CLI's own: dropped here
    assert backend.name == "fake"
    api = open_backend(
        "openai/judge",
        api_options={"base_url": ["http://127.0.0.1:9/v1"]},
        api_settings={"concurrency": 8},
        cache=False,
    )
    assert api.concurrency == 8


def test_an_extras_install_hint_names_its_packages_not_the_distribution(monkeypatch):
    """rubric-judge is installed from a wheel or a checkout, not from the package index:
    'pip install rubric-judge[serve]' would fail there. The hint names the extra's packages."""
    import importlib.metadata

    from judge import extras

    requires = ['starlette>=0.40; extra == "serve"', 'uvloop>=0.19; sys_platform == "nonesuch" and extra == "serve"']
    requires += [
        'openai>=1.50; extra == "api"',
        'rubric-judge[api]; extra == "litellm"',
        'litellm>=1.1; extra == "litellm"',
    ]
    monkeypatch.setattr(importlib.metadata, "requires", lambda name: requires + ["pydantic>=2"])
    assert extras.install_hint("serve") == "pip install 'starlette>=0.40'  (rubric-judge's 'serve' extra)"
    # an extra that brings another names that one's packages too, never rubric-judge itself
    assert (
        extras.install_hint("litellm") == "pip install 'openai>=1.50' 'litellm>=1.1'  (rubric-judge's 'litellm' extra)"
    )

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "requires", missing)
    assert extras.install_hint("serve") == "pip install 'rubric-judge[serve]'"  # a checkout on the path
