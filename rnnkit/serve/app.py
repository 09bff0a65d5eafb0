"""create_app(registry, config): the HTTP API and the page, thin handlers over the registry.

    GET  /                               the page (static/, no build step, no CDN)
    GET  /v1/health/live                 200 while the process runs
    GET  /v1/health/ready                200 once every model is loaded and warmed up, 503 before
    GET  /v1/models, /v1/models/{name}   what each model is (task, labels, sizes, weights, metrics)
    POST /v1/models/{name}/predict       {"inputs": [...], "options": {...}} -> {"outputs": [...]}, batched
    POST /v1/models/{name}/inspect       {"input": "..."} -> gates, states, saliency, attention
    GET  /v1/metrics                     requests, batches and batch sizes per model

With an API key every ``/v1`` route but health needs ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from rnnkit import __version__
from rnnkit.errors import InputError, PredictOptionError
from rnnkit.serve.batching import MicroBatcher, QueueFull
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.errors import ApiError, install_error_handlers
from rnnkit.serve.registry import Registry, ServedRun
from rnnkit.serve.schemas import (
    ErrorBody,
    Health,
    InspectRequest,
    InspectResponse,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
)
from rnnkit.serve.security import BodyLimit, key_dependency

__all__ = ["create_app"]

STATIC = resources.files("rnnkit.serve") / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 413, 422, 429, 503, 504)
}


def create_app(registry: Registry, config: ServeConfig | None = None, load: bool = True) -> FastAPI:
    """The app serving ``registry``'s runs; with ``load`` its runs are loaded in the background when the
    app starts (``/v1/health/ready`` says when they are)."""
    config = config or ServeConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        for batcher in app.state.batchers.values():
            batcher.start()
        if load:
            threading.Thread(target=registry.load_all, name="rnnkit-load", daemon=True).start()
        yield
        for batcher in app.state.batchers.values():  # uvicorn has let the requests in flight finish
            await batcher.stop()
        registry.close()

    app = FastAPI(
        title="rnnkit serve",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        description="Predict with and look inside trained rnnkit runs.",
    )
    app.state.registry, app.state.config, app.state.started = registry, config, time.time()
    app.state.batchers = {
        name: MicroBatcher(run.predict, run.executor, config.max_batch, config.max_wait_ms, config.max_queue)
        for name, run in registry.runs.items()
    }
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    install_error_handlers(app)
    app.include_router(_health_routes())
    app.include_router(_model_routes(), dependencies=[Depends(key_dependency)], responses=ERRORS)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def _health_routes() -> APIRouter:
    router = APIRouter(prefix="/v1/health", tags=["health"])

    @router.get("/live", response_model=Health)
    async def live() -> Health:
        return Health(status="live")

    @router.get("/ready", response_model=Health, responses={503: {"model": ErrorBody}})
    async def ready(request: Request) -> Health:
        registry: Registry = request.app.state.registry
        if not registry.ready:
            broken = [f"{run.name}: {run.error}" for run in registry.runs.values() if run.error]
            loaded = sum(run.ready for run in registry.runs.values())
            message = (
                ("a model failed to load: " + "; ".join(broken))
                if broken
                else (f"loading and warming up models: {loaded} of {len(registry.runs)} ready")
            )
            raise ApiError(503, message, headers={"Retry-After": "1"})
        return Health(status="ready", models=list(registry.runs))

    return router


def _run(request: Request, name: str, need_ready: bool = True) -> ServedRun:
    registry: Registry = request.app.state.registry
    run = registry.runs.get(name)
    if run is None:
        raise ApiError(404, f"no model named {name!r} (served: {', '.join(registry.runs)})", field="name")
    if need_ready and not run.ready:
        reason = run.error or "it is loading; try again shortly (GET /v1/health/ready)"
        raise ApiError(503, f"model {name!r} is not ready: {reason}", headers={"Retry-After": "1"})
    return run


def _info(run: ServedRun, config: ServeConfig) -> ModelInfo:
    return ModelInfo(
        name=run.name,
        task=run.info.get("task", "?"),
        ready=run.ready,
        error=run.error,
        limits=config.limits(),
        **{k: v for k, v in run.info.items() if k != "task"},
    )


def _check_length(text: str, field: str, config: ServeConfig) -> None:
    if len(text) > config.max_chars:
        raise ApiError(
            422,
            f"{field}: {len(text)} characters, at most {config.max_chars} (rnnkit serve --max-chars)",
            field=field,
            code="input_too_long",
        )


# option keys (their last part) whose value is how much work one input asks of the model
WORK_OPTIONS = {
    "max_new_tokens": ("max_new_tokens", "--max-new-tokens"),
    "max_output_length": ("max_new_tokens", "--max-new-tokens"),
    "beam_size": ("max_beams", "--max-beams"),
    "count": ("max_beams", "--max-beams"),
}


def _check_work(options: dict[str, Any], config: ServeConfig) -> None:
    """Refuse (422) an option asking a model for more work per input than the server allows: the model's
    thread would run it to its end even after the request's 504, holding the model for everyone."""
    for key, value in options.items():
        limit_name, flag = WORK_OPTIONS.get(key.rsplit(".", 1)[-1], (None, None))
        if limit_name is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # not a work option, or a value the task itself refuses
        limit = getattr(config, limit_name)
        if value > limit:
            raise ApiError(
                422,
                f"options.{key}: {value:g}, at most {limit} on this server (rnnkit serve {flag})",
                field=f"options.{key}",
                code="option_too_large",
            )


async def _within_time(awaitable, config: ServeConfig, what: str):
    """``await awaitable``, or a 504 after ``config.timeout_s`` (``asyncio.timeout`` where there is one:
    ``wait_for`` of Python 3.10 wraps each request's awaitable in a task of its own)."""
    try:
        if hasattr(asyncio, "timeout"):
            async with asyncio.timeout(config.timeout_s):
                return await awaitable
        return await asyncio.wait_for(awaitable, config.timeout_s)
    except asyncio.TimeoutError:
        raise ApiError(504, f"{what} took over {config.timeout_s:g} s (rnnkit serve --timeout-s)") from None


def _model_routes() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/models", response_model=ModelList, tags=["models"])
    async def models(request: Request) -> ModelList:
        config = request.app.state.config
        return ModelList(models=[_info(run, config) for run in request.app.state.registry.runs.values()])

    @router.get("/models/{name}", response_model=ModelInfo, tags=["models"])
    async def model(name: str, request: Request) -> ModelInfo:
        return _info(_run(request, name, need_ready=False), request.app.state.config)

    @router.post("/models/{name}/predict", response_model=PredictResponse, tags=["predict"])
    async def predict(name: str, body: PredictRequest, request: Request) -> PredictResponse:
        config: ServeConfig = request.app.state.config
        run = _run(request, name)
        if len(body.inputs) > config.max_items:
            raise ApiError(
                422,
                f"inputs: {len(body.inputs)} items, at most {config.max_items} per request "
                "(rnnkit serve --max-items)",
                field="inputs",
                code="too_many_inputs",
            )
        for k, text in enumerate(body.inputs):
            _check_length(text, f"inputs[{k}]", config)
        _check_work(body.options, config)
        try:
            run.check_options(body.options)
            run.check_inputs(body.inputs)
            outputs = await _within_time(
                request.app.state.batchers[name].submit(body.inputs, body.options), config, "predict"
            )
        except QueueFull as error:
            raise ApiError(
                429, f"model {name!r} is busy: {error}; retry later", headers={"Retry-After": "1"}
            ) from None
        except PredictOptionError as error:
            raise ApiError(422, str(error), field=f"options.{error.field}") from None
        except InputError as error:
            raise ApiError(422, error.reason, field=f"inputs[{error.number - 1}]") from None
        except (ValueError, TypeError) as error:
            raise ApiError(422, str(error), field="inputs") from None
        return PredictResponse(model=name, outputs=outputs)

    @router.post("/models/{name}/inspect", response_model=InspectResponse, tags=["inspect"])
    async def inspect(name: str, body: InspectRequest, request: Request) -> InspectResponse:
        config: ServeConfig = request.app.state.config
        run = _run(request, name)
        _check_length(body.input, "input", config)
        units = body.max_units or config.max_units
        if units > config.max_units_limit:
            raise ApiError(422, f"max_units: {units}, at most {config.max_units_limit}", field="max_units")
        try:
            run.check_inputs([body.input])
            loop = asyncio.get_running_loop()
            view = await _within_time(
                loop.run_in_executor(run.executor, run.inspect, body.input, units), config, "inspect"
            )
        except InputError as error:
            raise ApiError(422, error.reason, field="input") from None
        except ValueError as error:
            raise ApiError(422, str(error), field="input") from None
        return InspectResponse(model=name, **view)

    @router.get("/metrics", tags=["metrics"])
    async def metrics(request: Request) -> JSONResponse:
        batchers = request.app.state.batchers
        return JSONResponse(
            {
                "uptime_s": round(time.time() - request.app.state.started, 3),
                "models": {name: b.stats.as_dict(b.pending) for name, b in batchers.items()},
            }
        )

    return router
