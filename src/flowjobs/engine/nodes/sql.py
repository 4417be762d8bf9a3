"""``sql``: one statement on a named connection, with bound parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr
from sqlalchemy import TextClause, text
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import IDENTIFIER, CompileContext, Node
from flowjobs.engine.sql import bind_value, run_statement
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

_MAX_ERROR_CHARS = 500


class SqlNode(Node):
    """``query`` is SQL text with ``:name`` parameters (never an expression,
    never formatted; write ``\\:`` for a literal colon); ``params`` map names to
    expressions. ``mode``: ``rows`` -> ``{rows, rowCount}``, ``one`` -> the first
    row or null, ``execute`` -> ``{rowCount}``. ``batch`` (an expression giving
    an array of parameter objects) runs the statement once per element in one
    transaction, with ``params`` as defaults; it implies ``mode: execute``."""

    node_type: ClassVar[str] = "sql"

    connection: str = Field(min_length=1)
    query: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["rows", "one", "execute"] = "rows"
    batch: Any = None

    _statement: TextClause | None = PrivateAttr(default=None)
    _params: dict[str, Expression] = PrivateAttr(default_factory=dict)
    _batch: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        self._check_connection(ctx)
        try:
            self._statement = text(self.query)
        except ArgumentError as exc:  # pragma: no cover - text() accepts nearly anything
            ctx.problem(self, f"query: {exc}")
        for name, source in self.params.items():
            if not IDENTIFIER.match(name):
                ctx.problem(self, f"params: parameter name {name!r} is not an identifier")
                continue
            expression = ctx.expression(self, f"params.{name}", source)
            if expression is not None:
                self._params[name] = expression
        if self.batch is not None:
            self._batch = ctx.expression(self, "batch", self.batch)
            if "mode" in self.model_fields_set and self.mode != "execute":
                ctx.problem(self, "batch: needs mode execute (or no mode)")

    def _check_connection(self, ctx: CompileContext) -> None:
        known = getattr(ctx, "sql_connections", None)
        if known is None or self.connection in known:
            return
        configured = ", ".join(sorted(known)) or "none"
        ctx.problem(self, f'unknown connection "{self.connection}" (configured: {configured})')

    async def run(self, state: RunState) -> Any:
        connections = state.services.sql
        if connections is None:
            raise self._fail("no SQL connections are configured", "UnknownConnection")
        try:
            engine = await connections.engine(self.connection)
        except FlowExecutionError as exc:
            raise self._fail(exc.message, exc.error_type) from exc
        params = self._evaluate_params(state)
        arguments: dict[str, Any] | list[dict[str, Any]] = params
        if self._batch is not None:
            arguments = self._evaluate_batch(state, params)
        mode = "execute" if self._batch is not None else self.mode
        assert self._statement is not None
        try:
            return await run_statement(engine, self._statement, arguments, mode)
        except FlowExecutionError as exc:  # refused by the connection's guard
            raise self._fail(exc.message, exc.error_type) from exc
        except DBAPIError as exc:
            raise self._fail(_first_line(str(exc.orig)), "SqlError") from exc
        except SQLAlchemyError as exc:
            raise self._fail(_first_line(str(exc)), "SqlError") from exc

    def _fail(self, message: str, error_type: str) -> FlowExecutionError:
        return FlowExecutionError(
            f'node "{self.id}" (connection "{self.connection}"): {message}',
            node_id=self.id,
            error_type=error_type,
        )

    def _evaluate_params(self, state: RunState) -> dict[str, Any]:
        return {
            name: bind_value(state.evaluate(self, f"params.{name}", expression))
            for name, expression in self._params.items()
        }

    def _evaluate_batch(self, state: RunState, defaults: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._batch is not None
        value = state.evaluate(self, "batch", self._batch)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        batch = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self._fail(
                    f"batch[{index}] must be an object of parameters, got {item!r}"[:300],
                    "SqlError",
                )
            batch.append({**defaults, **{k: bind_value(v) for k, v in item.items()}})
        return batch


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "the statement failed"
    return line[:_MAX_ERROR_CHARS]
