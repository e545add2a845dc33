"""Rewriting a parsed statement for DuckDB: catalog tables → scans, Athena's output names.

- :func:`pruning_conjuncts` finds, for one table reference, the conjuncts of
  its SELECT's WHERE that only use that table's partition keys (and nothing
  volatile, aggregated or correlated), rendered against the pruning alias.
  A table on the null-supplying side of an outer join is never pruned: a
  conjunct such as ``r.day = 1 OR r.day IS NULL`` would then keep rows it
  should drop.
- :func:`render` replaces each table reference with its scan view (keeping the
  name columns are qualified with), drops ``db.`` qualifiers from columns and
  time-travel clauses (the scan already holds that snapshot), names unnamed
  output columns ``_col0``, ``_col1``… as Athena does, rewrites the Trino
  functions DuckDB reads differently (``functions.py``), and renders DuckDB SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from crispml.services.query.engines.duckdb.functions import rewrite_functions
from crispml.services.query.engines.duckdb.resolve import TableRef

_VOLATILE = ("rand", "random", "uuid", "now", "current_timestamp", "shuffle")


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    return [condition]


def _null_supplying(node: exp.Table, select: exp.Select) -> bool:
    parent = node.parent
    joins: list[exp.Join] = list(select.args.get("joins") or [])
    own = parent if isinstance(parent, exp.Join) else None
    if own is not None and str(own.args.get("side") or "").upper() in ("LEFT", "FULL"):
        return True
    return any(str(j.args.get("side") or "").upper() in ("RIGHT", "FULL") and j is not own for j in joins)


def pruning_conjuncts(node: exp.Table, alias: str, keys: Sequence[str], prune_alias: str) -> list[str]:
    """DuckDB SQL of the WHERE conjuncts that decide, from partition keys alone, whether a partition is read."""
    parent = node.parent
    select = parent.parent if isinstance(parent, exp.From | exp.Join) else None
    if not isinstance(select, exp.Select) or not keys or _null_supplying(node, select):
        return []
    where = select.args.get("where")
    if where is None:
        return []
    key_set = {k.lower() for k in keys}
    found: list[str] = []
    for conjunct in _conjuncts(where.this):
        columns = list(conjunct.find_all(exp.Column))
        if not columns or conjunct.find(exp.Query, exp.AggFunc, exp.Window, exp.Placeholder, exp.Parameter):
            continue
        if any(isinstance(f, exp.Rand) or f.sql_name().lower() in _VOLATILE for f in conjunct.find_all(exp.Func)):
            continue
        if not all(c.name.lower() in key_set and (not c.table or c.table.lower() == alias.lower())
                   for c in columns):
            continue
        copied = conjunct.copy()
        for column in copied.find_all(exp.Column):
            column.replace(exp.column(column.name.lower(), table=prune_alias, quoted=True))
        found.append(copied.sql("duckdb", copy=False))
    return found


def alias_of(node: exp.Table) -> str:
    """The name a table reference's columns are qualified with: its alias, else its own name."""
    return node.alias or node.name


def render(tree: exp.Expr, refs: Sequence[TableRef], views: Sequence[str], *, outermost: bool = True) -> str:
    """DuckDB SQL of ``tree`` with each reference replaced by its view; ``tree`` is left unchanged."""
    copy = tree.copy()
    # the copy's nodes in the same traversal order as the original's (sqlglot nodes compare by content)
    mapping = {id(a): b for a, b in zip(tree.find_all(exp.Table), copy.find_all(exp.Table), strict=True)}
    for ref, view in zip(refs, views, strict=True):
        if ref.node is None:
            continue
        target = mapping[id(ref.node)]
        replacement = exp.Table(this=exp.to_identifier(view, quoted=True))
        alias = target.args.get("alias")
        replacement.set("alias", alias.copy() if alias is not None else exp.TableAlias(
            this=exp.to_identifier(target.name, quoted=target.this.quoted if target.this else False)))
        target.replace(replacement)
    for column in copy.find_all(exp.Column):
        if column.args.get("db") is not None:
            column.set("db", None)
            column.set("catalog", None)
    if outermost:
        # derived tables too: Trino names their unnamed columns the same way (SELECT * FROM (SELECT count(*) …))
        for node in list(copy.find_all(exp.CTE, exp.Subquery)):
            if isinstance(node, exp.CTE) or isinstance(node.parent, exp.From | exp.Join):
                name_outputs(node.this)
        name_outputs(copy)
    return rewrite_functions(copy, refs).sql("duckdb", copy=False)  # the copy is ours: not copied again


#: The alias of an unnamed output column after a ``*``, whose position is known only once the star is expanded.
UNNAMED = "__crispml_unnamed_"


def name_outputs(tree: exp.Expr) -> None:
    """Athena's names for unnamed output columns: ``_col<position>`` (``count(*)`` too). After a ``*`` the
    position is not known before the engine expands it: such a column is aliased :data:`UNNAMED` and
    :func:`output_name` names it from its place in the result."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if isinstance(select, exp.Subquery):
        select = select.unnest()
    if not isinstance(select, exp.Select):
        return
    starred = False
    for position, projection in enumerate(select.expressions):
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and projection.is_star):
            starred = True
            continue
        if isinstance(projection, exp.Alias | exp.Column):
            continue
        name = f"{UNNAMED}{position}" if starred else f"_col{position}"
        projection.replace(exp.alias_(projection.copy(), name, quoted=True))


def output_name(name: str, position: int) -> str:
    """A result column's name as Athena gives it (see :func:`name_outputs`)."""
    return f"_col{position}" if name.startswith(UNNAMED) else name
