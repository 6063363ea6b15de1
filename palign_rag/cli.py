"""The ``palign`` command: a thin layer over ``Personalizer``.

Heavy libraries (torch, chromadb) are imported only inside the commands, so ``palign --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .personalizer import Personalizer

__all__ = ["main"]


def _common(parser: argparse.ArgumentParser, *, user: bool = True, json_flag: bool = False) -> None:
    parser.add_argument("--home", help="store directory (default: $PALIGN_HOME or ~/.palign)")
    parser.add_argument("--tenant", default="default", help="tenant the user belongs to (default: default)")
    if user:
        parser.add_argument("--user", required=True, help="the user id whose memories to use")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=["local", "openai"], help="LLM backend (default: $PALIGN_BACKEND or local)"
    )
    parser.add_argument("--model", help="model name (openai) or .gguf path (local); default $PALIGN_MODEL")
    parser.add_argument("--base-url", help="OpenAI-compatible base URL (default: $OPENAI_BASE_URL)")
    parser.add_argument("--policy", help="policy file to use instead of the default")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="palign",
        description="Personalized, value-constrained prompts for any LLM. Memories stay per user, on your disk.",
    )
    parser.add_argument("--version", action="version", version="palign-rag 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="show personalization for three example users, fully offline")
    demo.add_argument("--home", help="store directory for the demo (default: $PALIGN_HOME/demo)")
    demo.add_argument("--examples", help="folder of <user>.jsonl histories (default: the repository's examples/)")
    demo.add_argument("--max-tokens", type=int, default=80, help="reply length per answer (default 80)")
    demo.add_argument("--no-llm", action="store_true", help="skip the model replies; show prompts only")

    remember = commands.add_parser("remember", help="store a stated preference or fact")
    _common(remember, json_flag=True)
    remember.add_argument("text", help="what to remember, e.g. 'I prefer short answers'")
    remember.add_argument("--kind", choices=["preference", "fact", "episode"], default="preference")

    ingest = commands.add_parser("ingest", help="store a chat history (JSONL of OpenAI-format messages)")
    _common(ingest, json_flag=True)
    ingest.add_argument("file", help="a .jsonl file, one {'role', 'content'} message per line ('-' for stdin)")
    ingest.add_argument("--include-assistant", action="store_true", help="keep assistant turns as episodes too")

    inspect = commands.add_parser("inspect", help="show the prompt composed for a message, and why")
    _common(inspect, json_flag=True)
    inspect.add_argument("message", help="the user's message")
    inspect.add_argument("--system", default="", help="the app's own system prompt")
    inspect.add_argument("--budget", type=int, help="memory token budget (default: $PALIGN_MEMORY_BUDGET or 600)")
    inspect.add_argument("--policy", help="policy file to use instead of the default")
    inspect.add_argument(
        "--at",
        help="when the message is written, ISO 8601 (default now): what 'yesterday' or 'last week' are read from",
    )

    chat = commands.add_parser("chat", help="chat through the configured backend (interactive without a message)")
    _common(chat, json_flag=True)
    _backend_options(chat)
    chat.add_argument("message", nargs="?", help="one message; omit for an interactive session")
    chat.add_argument("--system", default="", help="the app's own system prompt")
    chat.add_argument("--max-tokens", type=int, default=256)

    memories = commands.add_parser("memories", help="list a user's memories")
    _common(memories, json_flag=True)

    evaluate = commands.add_parser(
        "eval", help="measure retrieval on public benchmarks (PrefEval, LoCoMo) and the understanding layer"
    )
    benchmarks = evaluate.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    prefeval = benchmarks.add_parser("prefeval", help="is the user's preference in the composed prompt?")
    prefeval.add_argument("--data", required=True, help="the PrefEval folder (holds explicit_preference/)")
    prefeval.add_argument("--turns", default="10,100,300", help="filler turns T, comma-separated (default 10,100,300)")
    prefeval.add_argument(
        "--variant", choices=["explicit", "choice", "persona", "crowded"], default="explicit", help="default explicit"
    )
    prefeval.add_argument("--budget", type=int, help="memory token budget (default 600; 400 for crowded)")
    prefeval.add_argument("--topics", help="only these topics, comma-separated")
    prefeval.add_argument("--limit", type=int, help="only the first N records of each topic")
    locomo = benchmarks.add_parser("locomo", help="recall@k of the evidence turns for each question")
    locomo.add_argument("--data", required=True, help="the LoCoMo JSON file")
    locomo.add_argument("--k", default="5,10,25,50", help="cut-offs, comma-separated (default 5,10,25,50)")
    locomo.add_argument("--limit", type=int, help="only the first N conversations")
    for sub in (prefeval, locomo):
        sub.add_argument("--home", help="store for the evaluation users (default: a fresh temporary directory)")
        sub.add_argument("--embedder", help="a local sentence-transformers model directory (default: the bundled one)")
        sub.add_argument(
            "--runtime",
            choices=("onnx", "torch"),
            help="run the embedder with onnxruntime or with sentence-transformers (default: onnx when installed)",
        )
        sub.add_argument("--report", help="write a self-contained HTML report with plots here")
        sub.add_argument("--json", action="store_true", help="print the figures as JSON")
        sub.add_argument("--no-progress", action="store_true", help="no progress bars")
    understanding = benchmarks.add_parser(
        "understanding", help="precision/recall/accuracy of the understanding layer on labelled JSONL"
    )
    understanding.add_argument(
        "--data", required=True, nargs="+", metavar="FILE", help="labelled .jsonl files (format: training/LABELS.md)"
    )
    understanding.add_argument("--json", action="store_true", help="print the figures as JSON")
    scenarios = benchmarks.add_parser(
        "scenarios", help="changes of mind, always-on and topical preferences in the composed prompt"
    )
    scenarios.add_argument(
        "--data", required=True, help="a folder of scenario suites (the project's own: training/scenarios)"
    )
    scenarios.add_argument("--json", action="store_true", help="print the figures as JSON")
    attacks = benchmarks.add_parser(
        "attacks", help="attack strings through ingest, remember and compose: does the value envelope hold?"
    )
    attacks.add_argument(
        "--data", required=True, help="a JSONL file of attack strings (generate one: benchmarks/attacks/generate.py)"
    )
    attacks.add_argument("--json", action="store_true", help="print the figures as JSON")

    serve = commands.add_parser("serve", help="run the OpenAI-compatible proxy (needs the 'server' extra)")
    serve.add_argument("--home", help="store directory (default: $PALIGN_HOME or ~/.palign)")
    _backend_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--keys",
        help='JSON file {"api key": "tenant"} (default: $PALIGN_API_KEYS; none: one open tenant, loopback only)',
    )
    serve.add_argument(
        "--tenant-policy",
        action="append",
        default=[],
        metavar="TENANT=FILE",
        help="a policy file for one tenant (repeatable); other tenants get --policy or the default",
    )
    serve.add_argument("--require-user", action="store_true", help="answer 400 to a request that names no user")
    serve.add_argument("--retries", type=int, default=2, help="retries of timeouts, 429 and 5xx (default 2)")
    serve.add_argument("--deadline", type=float, default=120.0, help="give up on the backend after this many seconds")

    forget = commands.add_parser("forget", help="delete one memory (--id) or all of a user's memories")
    _common(forget, json_flag=True)
    forget.add_argument("--id", dest="memory_id", help="the memory to delete (see `palign memories`)")
    forget.add_argument("--yes", action="store_true", help="do not ask before deleting all of a user's memories")
    return parser


def _personalizer(args: argparse.Namespace, *, home: str | None = None) -> Personalizer:
    from .config import Settings
    from .personalizer import Personalizer

    settings = Settings.resolve(
        home=home or args.home,
        backend=getattr(args, "backend", None),
        model=getattr(args, "model", None),
        base_url=getattr(args, "base_url", None),
    )
    return Personalizer(
        settings=settings, tenant=getattr(args, "tenant", "default"), policy=getattr(args, "policy", None)
    )


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _read_messages(path: str) -> list[dict[str, Any]]:
    from .errors import InvalidInputError

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc}. Pass a UTF-8 .jsonl file of chat messages.") from exc
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path} is not valid JSON ({exc}).") from exc
        return list(loaded)
    messages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{path}, line {number}: not valid JSON ({exc.msg}). Each line must be one message, "
                'e.g. {"role": "user", "content": "I prefer short answers"}.'
            ) from None
    return messages


def _cmd_remember(args: argparse.Namespace) -> int:
    memory = _personalizer(args).remember(args.user, args.text, kind=args.kind)
    if args.json:
        _print_json(memory.model_dump(mode="json"))
    else:
        print(f"remembered {memory.id} ({memory.kind.value})")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    messages = _read_messages(args.file)
    report = _personalizer(args).ingest(
        args.user,
        messages,
        origin=Path(args.file).name if args.file != "-" else "stdin",
        include_assistant=args.include_assistant,
    )
    if args.json:
        _print_json(report.model_dump(mode="json"))
    else:
        print(
            f"{len(messages)} messages: {report.added} new memories, {report.refreshed} already known "
            f"({report.preferences} preferences, {report.episodes} episodes, {report.quarantined} quarantined)"
        )
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .render import trace_text

    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    message: dict[str, Any] = {"role": "user", "content": args.message}
    if args.at:
        message["created_at"] = args.at
    messages.append(message)
    composed = _personalizer(args).compose(args.user, messages, memory_budget=args.budget)
    if args.json:
        _print_json(composed.model_dump(mode="json"))
    else:
        print(trace_text(composed))
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    personalizer = _personalizer(args)
    history: list[dict[str, Any]] = [{"role": "system", "content": args.system}] if args.system else []
    if args.message is not None:
        history.append({"role": "user", "content": args.message})
        result = personalizer.chat(args.user, history, max_tokens=args.max_tokens)
        if args.json:
            _print_json(result.model_dump(mode="json"))
        else:
            print(result.content)
        return 0
    print("palign chat: type a message, an empty line or Ctrl-D to leave.", file=sys.stderr)
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if not line.strip():
            break
        history.append({"role": "user", "content": line})
        result = personalizer.chat(args.user, history, max_tokens=args.max_tokens)
        history.append({"role": "assistant", "content": result.content})
        print(f"assistant> {result.content}")
    return 0


def _cmd_memories(args: argparse.Namespace) -> int:
    memories = _personalizer(args).memories(args.user)
    if args.json:
        _print_json([m.model_dump(mode="json") for m in memories])
        return 0
    if not memories:
        print(f"no memories for user {args.user!r}")
        return 0
    for memory in memories:
        text = " ".join(memory.text.split())
        text = text if len(text) <= 90 else text[:87] + "..."
        applies = memory.applies or ""
        print(
            f"{memory.id}  {memory.kind.value:<10} {applies:<8} {memory.status.value:<11} "
            f"{memory.created_at:%Y-%m-%d}  {text}"
        )
        if memory.understanding is not None:
            print(f"    read as: {memory.understanding.reason}")
        if memory.status_reason:
            print(f"    {memory.status.value}: {memory.status_reason}")
        elif memory.quarantine_reason:
            print(f"    quarantined: {memory.quarantine_reason}")
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    personalizer = _personalizer(args)
    if args.memory_id is None and not args.yes and sys.stdin.isatty():
        answer = input(f"Delete all memories of user {args.user!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    removed = personalizer.forget(args.user, args.memory_id)
    if args.json:
        _print_json({"user": args.user, "deleted": removed})
    else:
        print(f"deleted {removed} memor{'y' if removed == 1 else 'ies'} of user {args.user!r}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(home=args.home, examples=args.examples, max_tokens=args.max_tokens, use_llm=not args.no_llm)


def _ints(value: str, what: str) -> list[int]:
    from .errors import InvalidInputError

    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise InvalidInputError(f"{what} must be whole numbers separated by commas, e.g. 10,100,300.") from None
    if not numbers or min(numbers) <= 0:
        raise InvalidInputError(f"{what} must be positive whole numbers, e.g. 10,100,300.")
    return numbers


def _cmd_eval(args: argparse.Namespace) -> int:
    import tempfile

    if args.benchmark == "understanding":
        return _cmd_eval_understanding(args)
    if args.benchmark == "scenarios":
        return _cmd_eval_scenarios(args)
    if args.benchmark == "attacks":
        return _cmd_eval_attacks(args)

    from .embed import CachedEmbedder, Embedder, SentenceTransformerEmbedder
    from .eval import evaluate_locomo, evaluate_prefeval
    from .onnx_embed import OnnxEmbedder, onnx_available
    from .personalizer import Personalizer

    runtime = args.runtime or ("onnx" if onnx_available() else "torch")
    embedder: Embedder = (
        OnnxEmbedder(args.embedder) if runtime == "onnx" else SentenceTransformerEmbedder(args.embedder)
    )
    with tempfile.TemporaryDirectory(prefix="palign-eval-") as scratch:
        personalizer = Personalizer(args.home or scratch, embedder=CachedEmbedder(embedder))
        if args.benchmark == "prefeval":
            figures = evaluate_prefeval(
                personalizer,
                args.data,
                variant=args.variant,
                turns=_ints(args.turns, "--turns"),
                memory_budget=args.budget,
                topics=args.topics.split(",") if args.topics else None,
                limit=args.limit,
                report=args.report,
                progress=not args.no_progress,
            )
        else:
            figures = evaluate_locomo(
                personalizer,
                args.data,
                ks=_ints(args.k, "--k"),
                limit=args.limit,
                report=args.report,
                progress=not args.no_progress,
            )
    figures["runtime"] = runtime
    if args.json:
        _print_json(figures)
    else:
        _print_eval(figures)
    return 0


def _cmd_eval_scenarios(args: argparse.Namespace) -> int:
    from .eval.scenarios import run_scenarios
    from .personalizer import Personalizer
    from .store import ChromaStore

    figures = run_scenarios(Personalizer(store=ChromaStore.in_memory()), args.data)
    if args.json:
        _print_json(figures)
        return 0
    for suite, values in figures.items():
        if suite != "failures":
            print(f"{suite}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    for suite, ids in figures["failures"].items():
        print(f"  {suite} failed: {', '.join(ids)}")
    return 0


def _cmd_eval_attacks(args: argparse.Namespace) -> int:
    from .eval.attacks import run_attacks
    from .personalizer import Personalizer
    from .store import ChromaStore

    figures = run_attacks(Personalizer(store=ChromaStore.in_memory()), args.data)
    if args.json:
        _print_json(figures)
        return 0
    print(
        f"attacks: {figures['strings']} strings; structure failures {figures['structure_failures'] or 'none'}; "
        f"quarantined by ingest {figures['quarantined']}, refused by remember {figures['refused_by_remember']}, "
        f"reached the prompt {figures['reached_prompt']}"
    )
    for family, values in figures["families"].items():
        print(f"  {family:<22} " + ", ".join(f"{k} {v}" for k, v in values.items()))
    return 0


def _cmd_eval_understanding(args: argparse.Namespace) -> int:
    from .eval import evaluate_understanding_files

    figures = evaluate_understanding_files(args.data)
    if args.json:
        _print_json(figures)
        return 0
    print(f"understanding ({figures['understander']}, {figures['items']} items, {figures['seconds']} s)")
    print(f"  {'label (items)':<20} {'figure':<20} {'value':>7} {'of':>6}")
    for label, block in figures["labels"].items():
        first = True
        for name, figure in block.items():
            if name == "items":
                continue
            value = "n/a" if figure["value"] is None else f"{figure['value']:.3f}"
            head = f"{label} ({block['items']})" if first else ""
            print(f"  {head:<20} {name:<20} {value:>7} {figure['of']:>6}")
            first = False
    if not figures["labels"]:
        print("  no labels to score: give items a 'labels' object (see training/LABELS.md)")
    return 0


def _print_eval(figures: dict[str, Any]) -> None:
    print(
        f"{figures['benchmark']} ({figures['embedder']} on {figures.get('runtime', 'torch')}, {figures['seconds']} s)"
    )
    if figures["benchmark"] == "prefeval":
        print(f"  variant {figures['variant']}")
        if figures.get("gold_reference"):
            print(f"  gold turns picked by {figures['gold_reference']} (fixed, whatever --embedder)")
        print(f"  {'T':>5} {'records':>8} {'in prompt':>10} {'hit@1':>7} {'hit@5':>7} {'naive@1':>8} {'naive@5':>8}")
        for r in figures["results"]:
            print(
                f"  {r['turns']:>5} {r['records']:>8} {r['in_prompt']:>10.3f} {r['hit@1']:>7.3f} {r['hit@5']:>7.3f} "
                f"{r['baseline_hit@1']:>8.3f} {r['baseline_hit@5']:>8.3f}"
            )
    else:
        ks = list(figures["ours"])
        print(f"  {figures['questions']} questions in {figures['conversations']} conversations")
        print("  " + " " * 22 + " ".join(f"{k:>10}" for k in ks))
        print("  " + f"{'palign':<22}" + " ".join(f"{figures['ours'][k]:>10.3f}" for k in ks))
        print("  " + f"{'naive dense':<22}" + " ".join(f"{figures['baseline'][k]:>10.3f}" for k in ks))
        for name, values in figures["by_category"].items():
            label = f"{name} ({values['questions']})"
            print("  " + f"{label:<22}" + " ".join(f"{values['ours'][k]:>10.3f}" for k in ks))
    if figures.get("report"):
        print(f"  report: {figures['report']}")


def _cmd_serve(args: argparse.Namespace) -> int:
    from .errors import InvalidInputError

    try:
        import uvicorn

        from .server import ApiKeys, BackendUpstream, HttpUpstream, create_app, tenant_personalizers
    except ImportError as exc:
        raise InvalidInputError(
            f"palign serve needs the server extra ({exc.name} is missing): pip install 'palign-rag[server]'."
        ) from None
    from .policy import Policy

    keys = ApiKeys.load(args.keys)
    if keys.open and args.host not in ("127.0.0.1", "localhost", "::1"):
        raise InvalidInputError(
            f"No API keys are configured, so the proxy only binds to 127.0.0.1 (asked: {args.host}). "
            "Set PALIGN_API_KEYS or --keys to serve other addresses."
        )
    policies = {}
    for item in args.tenant_policy:
        tenant, sep, path = item.partition("=")
        if not sep or not tenant or not path:
            raise InvalidInputError(f"--tenant-policy takes TENANT=FILE, got {item!r}.")
        policies[tenant] = Policy.from_file(path)
    base = _personalizer(args)
    if base.settings.backend == "openai" and base.settings.base_url:
        upstream: Any = HttpUpstream(
            base.settings.base_url,
            api_key=base.settings.api_key,
            max_retries=args.retries,
            deadline=args.deadline,
        )
    else:
        upstream = BackendUpstream(base.backend)
    app = create_app(tenant_personalizers(base, policies), upstream, keys=keys, require_user=args.require_user)
    print(f"palign proxy on http://{args.host}:{args.port}/v1 -> {upstream.name}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


_COMMANDS = {
    "serve": _cmd_serve,
    "demo": _cmd_demo,
    "remember": _cmd_remember,
    "ingest": _cmd_ingest,
    "inspect": _cmd_inspect,
    "chat": _cmd_chat,
    "memories": _cmd_memories,
    "forget": _cmd_forget,
    "eval": _cmd_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``palign`` command; returns the exit status (0 ok, 1 runtime failure, 2 usage error)."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network at run time
    from .errors import PalignError, UsageError

    try:
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PalignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
