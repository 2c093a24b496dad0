"""One error base for the API: each expected condition has its status code, rendered by one
handler as ``{"error": ..., "detail": ...}``. An expected condition is never a 500. FastAPI's
validation errors and Starlette's routing answers (404, 405) go out in the same shape."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from services.api.metrics import KEY_REJECTIONS


class ApiError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra or {}

    def body(self) -> dict[str, object]:
        return {"error": self.error, "detail": self.detail, **self.extra}


class Unauthorized(ApiError):
    status_code = 401
    error = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status_code = 403
    error = "forbidden"


class NotFound(ApiError):
    status_code = 404
    error = "not_found"


class Unavailable(ApiError):
    status_code = 503
    error = "unavailable"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "5", **(headers or {})})


class InvalidRequest(ApiError):
    status_code = 422
    error = "invalid_request"


async def render_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own parameter validation, in the API's one error shape."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
    return await render_api_error(request, InvalidRequest(problems or "invalid request"))


async def render_routing_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own answers (a path no route matches, a method a route does not take), in the
    API's one error shape rather than FastAPI's bare ``{"detail": ...}``."""
    assert isinstance(exc, HTTPException)
    status = HTTPStatus(exc.status_code)
    detail, headers = exc.detail, exc.headers
    if status is HTTPStatus.NOT_FOUND:
        detail = f"no resource at {request.url.path!r}"
    elif status is HTTPStatus.METHOD_NOT_ALLOWED:
        detail = f"{request.method} is not allowed on {request.url.path!r}"
        # Starlette names the methods of the first route on the path; a path may have several.
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    body = {"error": status.phrase.lower().replace(" ", "_"), "detail": detail}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route takes at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


async def render_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if isinstance(exc, Unauthorized | Forbidden):
        KEY_REJECTIONS.labels(reason=exc.error).inc()
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


class Conflict(ApiError):
    status_code = 409
    error = "conflict"
