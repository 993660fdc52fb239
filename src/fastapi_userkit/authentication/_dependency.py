"""The one place where a dependency signature is built at run time.

FastAPI learns a dependency's parameters from its signature. The authenticator needs one
parameter per backend (the token, read by the backend's security scheme, so every scheme shows
in OpenAPI) and one per backend strategy, and the number of backends is known only when the app
is wired. So the signature is assembled here with :mod:`inspect`, on a function whose body is
ordinary typed code, and :func:`build_dependency` is the typed entry point (tested in
``tests/authentication/test_authenticator.py``).

A strategy factory that takes no parameters (``def get_jwt_strategy(): ...``, the documented
pattern) is called directly instead of being declared as a sub-dependency: FastAPI would run a
plain ``def`` dependency in the thread pool on every request, a thread hand-off that costs more
than the whole JWT check. A plain ``def`` factory with parameters (``def
get_database_strategy(access_token_db=Depends(...))``, the documented database pattern) is
declared through an ``async def`` with the same signature (:func:`strategy_dependency`): FastAPI
still resolves its parameters, then calls it on the loop. Either way a factory is expected to do
what the documented ones do, build a strategy object, and not to block.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, cast

from fastapi import Depends, Request

from fastapi_userkit.authentication._context import remember_backends, remember_strategies

__all__ = ["StrategyGetter", "build_dependency", "direct_strategy_getter", "strategy_dependency"]

StrategyGetter = Callable[[], Any]


class _Backend(Protocol):
    """What this module reads of an ``AuthenticationBackend`` (which imports this module)."""

    @property
    def name(self) -> str: ...  # pragma: no cover - protocol

    @property
    def transport(self) -> Any: ...  # pragma: no cover - protocol

    @property
    def get_strategy(self) -> Callable[..., Any]: ...  # pragma: no cover - protocol

    @property
    def strategy_dependency(self) -> Callable[..., Any]: ...  # pragma: no cover - protocol


def _plain_sync(get_strategy: Callable[..., Any]) -> bool:
    """Whether FastAPI would run ``get_strategy`` in its thread pool (a plain ``def`` or a class)."""
    # A callable object is judged by its ``__call__`` (as FastAPI does): an instance whose
    # ``__call__`` is ``async def`` would otherwise hand a coroutine over as the strategy.
    targets = [get_strategy]
    if not inspect.isroutine(get_strategy) and not inspect.isclass(get_strategy):
        targets.append(getattr(get_strategy, "__call__", get_strategy))  # noqa: B004 - the method itself is inspected
    return not any(
        inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target) or inspect.iscoroutinefunction(target)
        for target in targets
    )


def direct_strategy_getter(get_strategy: Callable[..., Any]) -> StrategyGetter | None:
    """Return ``get_strategy`` if it can be called inline (a plain function without parameters)."""
    if not _plain_sync(get_strategy):
        return None
    try:
        parameters = inspect.signature(get_strategy).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return None
    if parameters:
        return None
    return get_strategy


# factory -> its async declaration, so that every dependency built over one backend declares the
# same callable and FastAPI's per-request cache still calls the factory once.
_ON_THE_LOOP: weakref.WeakKeyDictionary[Callable[..., Any], Callable[..., Any]] = weakref.WeakKeyDictionary()


def strategy_dependency(get_strategy: Callable[..., Any]) -> Callable[..., Any]:
    """What to declare as ``Depends(...)`` for a strategy factory with parameters.

    A plain ``def`` becomes an ``async def`` with the same signature, its annotations resolved
    where the factory was written; anything else (``async def``, generators, a factory whose
    annotations cannot be resolved at run time) is declared as it is.
    """
    if not _plain_sync(get_strategy):
        return get_strategy
    with contextlib.suppress(KeyError, TypeError):  # not made yet, or not weakly referenceable
        return _ON_THE_LOOP[get_strategy]
    try:
        signature = inspect.signature(get_strategy, eval_str=True)
    except (NameError, TypeError, ValueError):  # a name only imported for type checkers, a builtin
        return get_strategy
    if any(parameter.kind is inspect.Parameter.POSITIONAL_ONLY for parameter in signature.parameters.values()):
        return get_strategy  # FastAPI passes parameters by name

    async def strategy_on_the_loop(**values: Any) -> Any:
        return get_strategy(**values)

    strategy_on_the_loop.__signature__ = signature  # type: ignore[attr-defined]  # read by FastAPI
    strategy_on_the_loop.__name__ = getattr(get_strategy, "__name__", strategy_on_the_loop.__name__)
    # Not weakly referenceable: a new declaration each time, still correct.
    with contextlib.suppress(TypeError):
        _ON_THE_LOOP[get_strategy] = strategy_on_the_loop
    return strategy_on_the_loop


def build_dependency(
    backends: Sequence[_Backend],
    variable_names: Sequence[str],
    get_user_manager: Callable[..., Any],
    get_enabled_backends: Callable[..., Any] | None,
    resolve: Callable[[Request, Any, dict[str, Any], dict[str, Any], Sequence[Any] | None], Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """Build a FastAPI dependency that gathers tokens and strategies, then calls ``resolve``.

    Args:
        backends: The backends in evaluation order.
        variable_names: A valid, unique Python identifier per backend.
        get_user_manager: The user-manager dependency.
        get_enabled_backends: Optional dependency returning the backends to evaluate.
        resolve: ``resolve(request, user_manager, tokens, strategies, enabled_backends)``;
            tokens and strategies are keyed by backend name.
    """
    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("user_manager", inspect.Parameter.KEYWORD_ONLY, default=Depends(get_user_manager)),
    ]
    direct: dict[str, StrategyGetter] = {}
    for backend, variable in zip(backends, variable_names, strict=True):
        parameters.append(
            inspect.Parameter(
                variable,
                inspect.Parameter.KEYWORD_ONLY,
                default=Depends(cast(Callable[..., Any], backend.transport.scheme)),
            )
        )
        getter = direct_strategy_getter(backend.get_strategy)
        if getter is not None:
            direct[backend.name] = getter
        else:
            parameters.append(
                inspect.Parameter(
                    f"strategy_{variable}",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=Depends(backend.strategy_dependency),
                )
            )
    if get_enabled_backends is not None:
        parameters.append(
            inspect.Parameter("enabled_backends", inspect.Parameter.KEYWORD_ONLY, default=Depends(get_enabled_backends))
        )

    async def dependency(**kwargs: Any) -> Any:
        tokens: dict[str, Any] = {}
        strategies: dict[str, Any] = {}
        for backend, variable in zip(backends, variable_names, strict=True):
            tokens[backend.name] = kwargs[variable]
            getter = direct.get(backend.name)
            strategies[backend.name] = getter() if getter is not None else kwargs[f"strategy_{variable}"]
        request: Request = kwargs["request"]
        remember_strategies(request, strategies)
        remember_backends(request, backends)
        return await resolve(request, kwargs["user_manager"], tokens, strategies, kwargs.get("enabled_backends"))

    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # read by FastAPI
    return dependency
