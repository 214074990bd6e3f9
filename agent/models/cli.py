"""`loopwright serve` and `loopwright models`: commands the main CLI registers."""

from __future__ import annotations

import enum
import importlib.util
import shutil
from pathlib import Path
from typing import Annotated

import typer

from loopwright.model import ModelError
from loopwright.models.localmodel import cache_dir
from loopwright.models.serve import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ServerProcess,
    base_url_for,
    start_llama_cpp,
    start_server,
    stop_local_servers,
    vllm_command,
)
from loopwright.models.local import served_models
from loopwright.visible import visible

app = typer.Typer(help="Local model servers.", no_args_is_help=True)


class Engine(enum.StrEnum):
    llama_cpp = "llama-cpp"
    vllm = "vllm"


def _fail(error: ModelError) -> typer.Exit:
    typer.echo(visible(f"error: {error}"), err=True)
    return typer.Exit(1)


@app.command("serve")
def serve_command(
    engine: Annotated[
        Engine, typer.Option(help="llama-cpp (CPU or GPU, GGUF) or vllm (GPU server).")
    ] = Engine.llama_cpp,
    model: Annotated[
        str | None, typer.Option(help="GGUF path or installed model (llama-cpp); model id or path (vllm).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[
        int | None, typer.Option(help=f"Port to listen on (default {DEFAULT_PORT}); with --stop, the one port to stop.")
    ] = None,
    n_ctx: Annotated[int, typer.Option(help="llama-cpp: context window in tokens.")] = 8192,
    n_gpu_layers: Annotated[int, typer.Option(help="llama-cpp: layers on the GPU (-1: all).")] = 0,
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm: GPUs to split the model over.")] = 1,
    tool_call_parser: Annotated[
        str, typer.Option(help="vllm: tool-call parser (hermes, qwen3_coder, ...; 'none' for text calls).")
    ] = "hermes",
    max_model_len: Annotated[int | None, typer.Option(help="vllm: context window in tokens.")] = None,
    served_name: Annotated[str | None, typer.Option(help="vllm: the name clients use for the model.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server to answer.")] = 900.0,
    stop: Annotated[
        bool,
        typer.Option(
            "--stop",
            help="Stop the llama.cpp servers loopwright left running instead of starting one.",
        ),
    ] = False,
) -> None:
    """Start a local OpenAI-compatible server, wait until it answers, print the model spec, and serve until Ctrl-C.

    With --stop: stop the llama.cpp servers loopwright started for the default model and left running.
    """
    if stop:
        _stop(port)
        return
    try:
        server = _start(
            engine,
            model,
            host,
            DEFAULT_PORT if port is None else port,
            n_ctx,
            n_gpu_layers,
            tensor_parallel_size,
            tool_call_parser,
            max_model_len,
            served_name,
            timeout,
        )
    except ModelError as error:
        raise _fail(error) from None
    typer.echo(f"serving {server.model} at {server.base_url} (log: {server.log_path})")
    typer.echo(f"model spec: {server.spec}")
    with server:
        try:
            server.process.wait()
        except KeyboardInterrupt:
            typer.echo("stopping the server")
    if server.process.returncode not in (0, None, -2, -15):
        raise _fail(ModelError(f"the server exited with code {server.process.returncode} (log: {server.log_path})"))


def _stop(port: int | None) -> None:
    stopped = stop_local_servers(port)
    for record in stopped:
        typer.echo(f"stopped the llama.cpp server on port {record.port} (pid {record.pid})")
    if not stopped:
        where = f" on port {port}" if port is not None else ""
        typer.echo(f"no server started by loopwright is running{where}")


def _start(
    engine: Engine,
    model: str | None,
    host: str,
    port: int,
    n_ctx: int,
    n_gpu_layers: int,
    tensor_parallel_size: int,
    tool_call_parser: str,
    max_model_len: int | None,
    served_name: str | None,
    timeout: float,
) -> ServerProcess:
    if engine is Engine.llama_cpp:
        return start_llama_cpp(model, host=host, port=port, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, timeout=timeout)
    if not model:
        raise ModelError("vllm needs --model (a model id or a local path)")
    if shutil.which("vllm") is None and importlib.util.find_spec("vllm") is None:
        raise ModelError("vLLM is not installed here: pip install vllm (on the GPU server)")
    name = served_name or Path(model).name
    parser = None if tool_call_parser == "none" else tool_call_parser
    command = vllm_command(
        model, served_name=name, host=host, port=port, tensor_parallel_size=tensor_parallel_size,
        tool_call_parser=parser, max_model_len=max_model_len,
    )  # fmt: skip
    log = cache_dir().parent / "logs" / f"vllm-{port}.log"
    return start_server(command, base_url=base_url_for(host, port), model=name, log_path=log, timeout=timeout)


@app.command("models")
def models_command(
    base_url: Annotated[str, typer.Option(help="The server's OpenAI-compatible base URL.")] = base_url_for(
        DEFAULT_HOST, DEFAULT_PORT
    ),
    api_key: Annotated[
        str | None, typer.Option(envvar="LOOPWRIGHT_LOCAL_API_KEY", help="Bearer token, if the server wants one.")
    ] = None,
) -> None:
    """List the models a server offers, each with the spec to use it."""
    try:
        names = served_models(base_url, api_key=api_key)
    except ModelError as error:
        raise _fail(error) from None
    if not names:
        typer.echo(f"{base_url} offers no models")
    for name in names:
        # Names come from the server: shown with their hidden characters written out.
        typer.echo(visible(f"{name}\tlocal:{name}@{base_url}"))
