"""Which grammar library decodes our schemas: llguidance, xgrammar, outlines-core and
lm-format-enforcer side by side, on the same model, schemas and seeds.

For each library: the one-off set-up per tokenizer, the compile time per schema, the time
to compute one step's token mask, and the share of generations that are valid JSON for
the schema *including its bounds* (maxItems, maxLength, enums; checked with jsonschema,
since pydantic does not enforce the decoding bounds); "budget" counts generations that
had not closed the document when the token budget ran out (the product reports those). The model is the tiny random Llama of
the tests with the real SmolLM2 tokenizer, sampled at temperature 1: the worst writer there
is, so any gap in a library's grammar shows. What each library pulls in is printed too.

    python bench/grammar_libraries.py [--seeds 10] [--max-tokens 1500]

Libraries that are not installed are skipped (pip install llguidance xgrammar
outlines-core lm-format-enforcer; xgrammar needs --no-deps plus apache-tvm-ffi to avoid
pulling triton).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judge.backends import default_model  # noqa: E402
from judge.backends.grammar import closed  # noqa: E402
from judge.backends.structured import BatchedVerdict, GeneratedVerdict  # noqa: E402
from judge.generate.auto_rubric import ThemeTips  # noqa: E402
from judge.generate.constraints import Decomposition  # noqa: E402
from judge.generate.contrastive import GeneratedRubric  # noqa: E402
from judge.generate.nuggets import ExtractedNuggets  # noqa: E402

SCHEMAS = [GeneratedRubric, ThemeTips, ExtractedNuggets, Decomposition, BatchedVerdict, GeneratedVerdict]


def unpack(bitmask: bytes | np.ndarray, vocab: int) -> torch.Tensor:
    bits = np.unpackbits(
        np.frombuffer(bitmask, dtype=np.uint8) if isinstance(bitmask, bytes) else bitmask.view(np.uint8),
        bitorder="little",
    )
    return torch.from_numpy(bits[:vocab].astype(bool))


class LLGuidance:
    package = "llguidance"

    def __init__(self, tokenizer: Any):
        import llguidance.hf

        self.ll, self.tokenizer = llguidance, llguidance.hf.from_tokenizer(tokenizer)

    def start(self, schema: dict) -> Any:
        grammar = self.ll.LLMatcher.grammar_from_json_schema(schema, overrides={"whitespace_flexible": False})
        return self.ll.LLMatcher(self.tokenizer, grammar, log_level=0)

    def allowed(self, m: Any, vocab: int) -> torch.Tensor:
        return unpack(m.compute_bitmask(), vocab)

    def advance(self, m: Any, token: int) -> None:
        m.consume_token(token)


class XGrammar:
    package = "xgrammar"

    def __init__(self, tokenizer: Any):
        import xgrammar

        self.xgr = xgrammar
        self.info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer))
        self.compiler = xgrammar.GrammarCompiler(self.info)

    def start(self, schema: dict) -> Any:
        compiled = self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
        return self.xgr.GrammarMatcher(compiled), self.xgr.allocate_token_bitmask(1, self.info.vocab_size)

    def allowed(self, state: Any, vocab: int) -> torch.Tensor:
        matcher, bitmask = state
        matcher.fill_next_token_bitmask(bitmask)
        return unpack(bitmask[0].numpy(), vocab)

    def advance(self, state: Any, token: int) -> None:
        state[0].accept_token(token)


class OutlinesCore:
    package = "outlines_core"

    def __init__(self, tokenizer: Any):
        import outlines_core
        from outlines_core.json_schema import build_regex_from_schema
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        self.oc, self.regex = outlines_core, build_regex_from_schema
        byte_of = {c: b for b, c in bytes_to_unicode().items()}  # byte-level BPE spells bytes as characters
        special = set(tokenizer.all_special_ids)
        vocabulary: dict[bytes, list[int]] = {}
        for token, index in tokenizer.get_vocab().items():
            if index not in special and all(c in byte_of for c in token):
                vocabulary.setdefault(bytes(byte_of[c] for c in token), []).append(index)
        self.vocabulary = outlines_core.Vocabulary(tokenizer.eos_token_id, vocabulary)

    def start(self, schema: dict) -> Any:
        return self.oc.Guide(self.oc.Index(self.regex(json.dumps(schema), None), self.vocabulary))

    def allowed(self, guide: Any, vocab: int) -> torch.Tensor:
        mask = torch.zeros(vocab, dtype=torch.bool)
        mask[[t for t in guide.get_tokens() if t < vocab]] = True
        return mask

    def advance(self, guide: Any, token: int) -> None:
        guide.advance(token)


class FormatEnforcer:
    package = "lm-format-enforcer"

    def __init__(self, tokenizer: Any):
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer
        from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

        self.parser, self.enforcer = JsonSchemaParser, TokenEnforcer
        self.data = build_token_enforcer_tokenizer_data(tokenizer)

    def start(self, schema: dict) -> Any:
        return self.enforcer(self.data, self.parser(schema)), []

    def allowed(self, state: Any, vocab: int) -> torch.Tensor:
        enforcer, sequence = state
        mask = torch.zeros(vocab, dtype=torch.bool)
        mask[[t for t in enforcer.get_allowed_tokens(list(sequence)).allowed_tokens if t < vocab]] = True
        return mask

    def advance(self, state: Any, token: int) -> None:
        state[1].append(token)


LIBRARIES = {
    "llguidance": LLGuidance,
    "xgrammar": XGrammar,
    "outlines-core": OutlinesCore,
    "lm-format-enforcer": FormatEnforcer,
}


def dependencies(package: str) -> str:
    try:
        required = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return "?"
    names = sorted({re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in required if "extra ==" not in r})
    return ", ".join(names) or "none"


@torch.inference_mode()
def sample(
    model: Any, library: Any, state: Any, prompt: list[int], eos: int, vocab: int, max_tokens: int, seed: int
) -> tuple[list[int], list[float], bool]:
    """Tokens sampled at temperature 1 under the library's masks, each mask's time, and
    whether the model ended the document (False: the token budget ran out first)."""
    generator = torch.Generator().manual_seed(seed)
    name = (
        "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    )  # transformers 5 renamed it
    out = model(input_ids=torch.tensor([prompt]), use_cache=True)
    cache, logits, tokens, times = out[name], out.logits[0, -1], [], []
    for _ in range(max_tokens):
        start = time.perf_counter()
        allowed = library.allowed(state, vocab)
        times.append(time.perf_counter() - start)
        if not allowed.any():
            break
        token = int(
            torch.multinomial(
                torch.softmax(logits[:vocab].masked_fill(~allowed, float("-inf")), -1), 1, generator=generator
            )
        )
        if token == eos:
            return tokens, times, True
        library.advance(state, token)
        tokens.append(token)
        out = model(input_ids=torch.tensor([[token]]), **{name: cache}, use_cache=True)
        cache, logits = out[name], out.logits[0, -1]
    return tokens, times, False


def measure(name: str, seeds: int, max_tokens: int) -> dict[str, Any]:
    """One library's row (run in a child process: a library may exhaust memory)."""
    import jsonschema
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(default_model.ensure_converted())
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    ).eval()
    vocab, eos = len(tokenizer), tokenizer.eos_token_id
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Answer in JSON."}], add_generation_prompt=True, return_dict=True
    )["input_ids"]
    cls = LIBRARIES[name]
    start = time.perf_counter()
    library = cls(tokenizer)
    setup = time.perf_counter() - start
    compile_times, mask_times, valid, budget, failures = [], [], 0, 0, []
    for schema_class in SCHEMAS:
        schema = closed(schema_class.model_json_schema())  # as the product compiles it
        for seed in range(seeds):
            try:
                start = time.perf_counter()
                state = library.start(schema)
                compile_times.append(time.perf_counter() - start)
                tokens, times, ended = sample(model, library, state, prompt, eos, vocab, max_tokens, seed)
                mask_times += times
                if not ended:  # reported as such by the product, not returned: counted apart
                    budget += 1
                    continue
                text = tokenizer.decode(tokens)
                jsonschema.validate(json.loads(text), schema)
                schema_class.model_validate_json(text)
                valid += 1
            except Exception as e:  # noqa: BLE001 - a failure of the library is what is measured
                failures.append(f"{schema_class.__name__}: {type(e).__name__}: {str(e).splitlines()[0][:100]}")
    return {
        "setup": setup,
        "compile_ms": 1000 * statistics.median(compile_times) if compile_times else None,
        "mask_ms": 1000 * statistics.mean(mask_times) if mask_times else None,
        "valid": valid,
        "budget": budget,
        "total": len(SCHEMAS) * seeds,
        "failures": list(dict.fromkeys(failures)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument(
        "--memory-gb", type=float, default=6.0, help="address-space limit per library (default %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per library (default %(default)s)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seeds, args.max_tokens)))
        return

    import resource
    import subprocess

    def limit() -> None:
        size = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    rows = {}
    for name in args.libraries.split(","):
        command = [
            sys.executable,
            __file__,
            "--one",
            name,
            "--seeds",
            str(args.seeds),
            "--max-tokens",
            str(args.max_tokens),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, preexec_fn=limit)
        except subprocess.TimeoutExpired:
            rows[name] = f"did not finish within {args.timeout:.0f} s"
            continue
        if done.returncode != 0:
            last = [line for line in done.stderr.splitlines() if line.strip() and "Warning" not in line]
            rows[name] = (
                f"failed (exit {done.returncode}, {args.memory_gb:g} GB limit): {last[-1][:120] if last else 'no message'}"
            )
            continue
        rows[name] = json.loads(done.stdout.splitlines()[-1])
    measured = [r for r in rows.values() if isinstance(r, dict) and r["mask_ms"]]
    fastest = min(r["mask_ms"] for r in measured) if measured else float("nan")
    print(
        f"{len(SCHEMAS)} schemas x {args.seeds} seeds, a random 2-layer Llama with the SmolLM2 tokenizer, temperature 1, "
        f"at most {args.max_tokens} tokens"
    )
    print(
        f"{'library':20} {'set-up s':>9} {'compile ms':>11} {'mask ms/token':>14} {'x fastest':>10} {'valid':>9} {'budget':>7}  dependencies"
    )
    for name, row in rows.items():
        deps = dependencies(LIBRARIES[name].package)
        if isinstance(row, str):
            print(f"{name:20} {row}  [{deps}]")
            continue
        mask = row["mask_ms"] or float("nan")
        compile_ms = row["compile_ms"] if row["compile_ms"] is not None else float("nan")
        print(
            f"{name:20} {row['setup']:9.2f} {compile_ms:11.1f} {mask:14.3f} {mask / fastest:10.1f} "
            f"{row['valid']:>4}/{row['total']:<4} {row['budget']:>7}  {deps}"
        )
        for failure in row["failures"][:3]:
            print(f"{'':22}{failure}")


if __name__ == "__main__":
    main()
