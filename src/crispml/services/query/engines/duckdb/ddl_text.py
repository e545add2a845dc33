"""Table definitions between Athena's DDL text and the catalog's ``TableInput``.

- :func:`create_request`: ``CREATE EXTERNAL TABLE … (cols) [COMMENT] [PARTITIONED BY (…)]
  [ROW FORMAT DELIMITED … | ROW FORMAT SERDE '…' [WITH SERDEPROPERTIES (…)]]
  [STORED AS TEXTFILE|PARQUET | STORED AS INPUTFORMAT '…' OUTPUTFORMAT '…']
  LOCATION '…' [TBLPROPERTIES (…)]`` as Glue's ``CreateTable`` request (Hive
  types, SerDe and formats as Athena writes them into Glue), and ``CREATE TABLE
  … LOCATION … TBLPROPERTIES ('table_type'='ICEBERG')`` as a managed table
  (identity partitions only).
- :func:`create_table_text` and :func:`describe`: the lines ``SHOW CREATE
  TABLE`` and ``DESCRIBE [FORMATTED]`` print, in Hive's layout, which Athena
  keeps (fields padded to 20 characters and separated by tabs).

The text is assembled by hand: Athena's layout is Hive's, which sqlglot does
not reproduce line for line.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from crispml.core.errors import InvalidArgument
from crispml.services.catalog.service import CreateTableRequest, Table
from crispml.services.query.engines.duckdb.sql import DATA_CATALOG

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET = ("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
           "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
           "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
#: The SerDe a table of each format is shown with when its definition names none.
_SHOWN_SERDE = {"csv": (LAZY_SIMPLE, TEXT_INPUT, TEXT_OUTPUT),
                "json": ("org.openx.data.jsonserde.JsonSerDe", TEXT_INPUT, TEXT_OUTPUT), "parquet": PARQUET}
#: ROW FORMAT DELIMITED's clauses → LazySimpleSerDe's parameters.
_DELIMITED = {"fields": "field.delim", "escaped": "escape.delim", "collection_items": "collection.delim",
              "map_keys": "mapkey.delim", "lines": "line.delim", "null": "serialization.null.format"}
#: Parameters of a managed table that its Iceberg metadata owns (not shown, not given).
_ICEBERG_OWN = ("metadata_location", "previous_metadata_location", "table_type")
ALIGN = 20


def hive_type(kind: exp.DataType) -> str:
    """A column's Hive type as the catalog keeps it (``struct<a:int,b:string>``, ``decimal(10,2)``)."""
    return kind.sql("hive").lower().replace(": ", ":").replace(", ", ",")


def create_request(tree: exp.Create, default_database: str | None) -> CreateTableRequest:
    """``CREATE [EXTERNAL] TABLE`` (no AS SELECT) as the catalog's CreateTable request; InvalidArgument for
    what Athena refuses or the catalog cannot hold."""
    schema = tree.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    if not isinstance(table, exp.Table) or not table.name:
        raise InvalidArgument("CREATE TABLE needs a name: CREATE EXTERNAL TABLE db.name (col type, …) …")
    if table.catalog and table.catalog.lower() != DATA_CATALOG:
        raise InvalidArgument(f"catalog {table.catalog!r} does not exist; tables live in {DATA_CATALOG!r}")
    database = (table.db or default_database or "").lower()
    if not database:
        raise InvalidArgument(f"CREATE TABLE {table.name}: name its database (db.{table.name}) or pass a database "
                              "with the query")
    if not isinstance(schema, exp.Schema) or not schema.expressions:
        raise InvalidArgument(f"CREATE TABLE {table.name} needs its columns: (name type [COMMENT '…'], …)")
    columns = [_column(c) for c in schema.expressions]
    found = _properties(tree)
    iceberg = str(found["parameters"].get("table_type", "")).upper() == "ICEBERG"
    table_input: dict[str, Any] = {"Name": table.name.lower(), "Parameters": found["parameters"]}
    if found["comment"] is not None:
        table_input["Description"] = found["comment"]
    if iceberg:
        return _iceberg(database, table_input, columns, found)
    if not found["external"]:
        raise InvalidArgument(
            f"CREATE TABLE {table.name}: Athena creates external tables (CREATE EXTERNAL TABLE … LOCATION '…') "
            "and Iceberg tables (… TBLPROPERTIES ('table_type'='ICEBERG')); say which")
    if found["location"] is None:
        raise InvalidArgument(f"CREATE EXTERNAL TABLE {table.name} needs LOCATION 's3://bucket/prefix/', the "
                              "folder of its files")
    keys = [_column(c) if isinstance(c, exp.ColumnDef) else _untyped(c) for c in found["partitioned_by"]]
    serde, input_format, output_format = found["serde"], found["input_format"], found["output_format"]
    table_input.update({
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": columns, "Location": found["location"], "InputFormat": input_format,
                              "OutputFormat": output_format,
                              "SerdeInfo": {"SerializationLibrary": serde, "Parameters": found["serde_parameters"]}},
        "PartitionKeys": keys,
    })
    table_input["Parameters"] = {"EXTERNAL": "TRUE", **table_input["Parameters"]}
    return _request(database, table_input, iceberg=False)


def _iceberg(database: str, table_input: dict[str, Any], columns: list[dict[str, Any]],
             found: dict[str, Any]) -> CreateTableRequest:
    name = table_input["Name"]
    if found["location"] is None:
        raise InvalidArgument(f"CREATE TABLE {name} (Iceberg) needs LOCATION 's3://bucket/prefix/' for its data "
                              "and metadata files")
    if found["serde"] or found["input_format"] or found["external"]:
        raise InvalidArgument(f"CREATE TABLE {name}: an Iceberg table takes no EXTERNAL, ROW FORMAT or STORED AS; "
                              "Iceberg writes Parquet")
    keys: list[str] = []
    for node in found["partitioned_by"]:
        if isinstance(node, exp.Identifier | exp.Column):
            keys.append(node.name.lower())
        else:
            raise InvalidArgument(f"partition transform {node.sql('athena')!r} is not supported; partition Iceberg "
                                  "tables by columns (PARTITIONED BY (col, …))")
    names = [c["Name"] for c in columns]
    unknown = [k for k in keys if k not in names]
    if unknown:
        raise InvalidArgument(f"PARTITIONED BY names {unknown[0]!r}, which is not a column of {name} "
                              f"(columns: {', '.join(names)})")
    table_input.update({
        "StorageDescriptor": {"Columns": [c for c in columns if c["Name"] not in keys], "Location": found["location"]},
        "PartitionKeys": [next(c for c in columns if c["Name"] == k) for k in keys],
    })
    table_input["Parameters"] = {**{k: v for k, v in table_input["Parameters"].items() if k != "table_type"},
                                 "table_type": "ICEBERG"}
    return _request(database, table_input, iceberg=True)


def _request(database: str, table_input: dict[str, Any], *, iceberg: bool) -> CreateTableRequest:
    given: dict[str, Any] = {"DatabaseName": database, "TableInput": table_input}
    if iceberg:
        given["OpenTableFormatInput"] = {"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}}
    return CreateTableRequest(**given)


def _column(node: exp.Expr) -> dict[str, Any]:
    if not isinstance(node, exp.ColumnDef) or not isinstance(node.args.get("kind"), exp.DataType):
        raise InvalidArgument(f"column {node.sql('hive')!r} needs a type: name type [COMMENT '…']")
    column: dict[str, Any] = {"Name": node.name.lower(), "Type": hive_type(node.args["kind"])}
    for constraint in node.args.get("constraints") or []:
        if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
            column["Comment"] = constraint.args["kind"].this.name
        else:
            raise InvalidArgument(f"column {node.name!r}: {constraint.sql('hive')!r} is not supported (only COMMENT)")
    return column


def _untyped(node: exp.Expr) -> dict[str, Any]:
    raise InvalidArgument(f"partition column {node.sql('hive')!r} of an external table needs a type: "
                          "PARTITIONED BY (name type, …)")


def _properties(tree: exp.Create) -> dict[str, Any]:
    found: dict[str, Any] = {"external": False, "comment": None, "partitioned_by": [], "serde": None,
                             "serde_parameters": {}, "input_format": None, "output_format": None,
                             "location": None, "parameters": {}}
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.ExternalProperty):
            found["external"] = True
        elif isinstance(prop, exp.SchemaCommentProperty):
            found["comment"] = prop.this.name
        elif isinstance(prop, exp.PartitionedByProperty):
            found["partitioned_by"] = list(prop.this.expressions) if isinstance(prop.this, exp.Schema) else [prop.this]
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            found["serde"] = LAZY_SIMPLE
            parameters = {key: prop.args[arg].name for arg, key in _DELIMITED.items() if prop.args.get(arg)}
            if "field.delim" in parameters:
                parameters["serialization.format"] = parameters["field.delim"]
            found["serde_parameters"] = parameters
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            found["serde"] = prop.this.name
            serde_properties = prop.args.get("serde_properties")
            found["serde_parameters"] = {p.name: p.args["value"].name for p in (
                serde_properties.expressions if serde_properties is not None else [])}
        elif isinstance(prop, exp.FileFormatProperty):
            _stored_as(prop, found)
        elif isinstance(prop, exp.LocationProperty):
            found["location"] = prop.this.name
        elif isinstance(prop, exp.Property):
            found["parameters"][prop.name] = _text(prop.args.get("value"))
        else:
            raise InvalidArgument(f"{prop.sql('hive')!r} is not supported in CREATE TABLE (clauses: COMMENT, "
                                  "PARTITIONED BY, ROW FORMAT, STORED AS, LOCATION, TBLPROPERTIES)")
    if found["serde"] is None and found["input_format"] == TEXT_INPUT:
        found["serde"] = LAZY_SIMPLE
    if found["input_format"] is None and found["serde"] is not None:
        found["input_format"], found["output_format"] = (
            PARQUET[1:] if "parquet" in found["serde"].lower() else (TEXT_INPUT, TEXT_OUTPUT))
    return found


def _stored_as(prop: exp.FileFormatProperty, found: dict[str, Any]) -> None:
    fmt = prop.this
    if isinstance(fmt, exp.InputOutputFormat):
        found["input_format"] = _text(fmt.args.get("input_format"))
        found["output_format"] = _text(fmt.args.get("output_format"))
        return
    name = _text(fmt).upper()
    if name == "TEXTFILE":
        found["input_format"], found["output_format"] = TEXT_INPUT, TEXT_OUTPUT
    elif name == "PARQUET":
        found["serde"] = found["serde"] or PARQUET[0]
        found["input_format"], found["output_format"] = PARQUET[1], PARQUET[2]
    else:
        raise InvalidArgument(f"STORED AS {name} is not supported: the engine reads TEXTFILE (CSV, or JSON with "
                              "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe') and PARQUET")


def _text(node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, exp.Literal | exp.Identifier | exp.Var):
        return str(node.name)
    if isinstance(node, exp.Expr):
        return str(node.sql("hive"))
    return str(node)


# -- text --------------------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _columns(columns: list[Any]) -> list[str]:
    lines = []
    for position, c in enumerate(columns):
        comment = f" COMMENT {_quote(c.comment)}" if c.comment else ""
        lines.append(f"  `{c.name}` {c.type}{comment}{',' if position < len(columns) - 1 else ')'}")
    return lines


def _tblproperties(parameters: dict[str, str]) -> list[str]:
    shown = sorted(parameters.items())
    if not shown:
        return []
    return ["TBLPROPERTIES ("] + [f"  {_quote(k)}={_quote(v)}{',' if i < len(shown) - 1 else ')'}"
                                  for i, (k, v) in enumerate(shown)]


def create_table_text(table: Table) -> list[str]:
    """``SHOW CREATE TABLE``: the DDL that makes the table again, one line per row, as Athena prints it."""
    sd = table.storage_descriptor
    if table.is_iceberg:
        lines = [f"CREATE TABLE `{table.database_name}`.`{table.name}`("]
        lines += _columns([*sd.columns, *table.partition_keys])
        if table.description:
            lines.append(f"COMMENT {_quote(table.description)}")
        if table.partition_keys:
            lines.append(f"PARTITIONED BY ({', '.join(f'`{k.name}`' for k in table.partition_keys)})")
        lines += ["LOCATION", f"  {_quote(sd.location or '')}"]
        return lines + _tblproperties({**{k: v for k, v in table.parameters.items() if k not in _ICEBERG_OWN},
                                       "table_type": "ICEBERG"})
    serde, input_format, output_format = _SHOWN_SERDE.get(table.format, _SHOWN_SERDE["csv"])
    library = sd.serde_info.serialization_library if sd.serde_info is not None else None
    serde_parameters = dict(sd.serde_info.parameters) if sd.serde_info is not None else {}
    lines = [f"CREATE EXTERNAL TABLE `{table.database_name}`.`{table.name}`("]
    lines += _columns(sd.columns)
    if table.description:
        lines.append(f"COMMENT {_quote(table.description)}")
    if table.partition_keys:
        lines += ["PARTITIONED BY ( ", *_columns(table.partition_keys)]
    lines += ["ROW FORMAT SERDE ", f"  {_quote(library or serde)} "]
    if serde_parameters:
        items = sorted(serde_parameters.items())
        lines += ["WITH SERDEPROPERTIES ( "] + [
            f"  {_quote(k)}={_quote(v)}{', ' if i < len(items) - 1 else ') '}" for i, (k, v) in enumerate(items)]
    lines += ["STORED AS INPUTFORMAT ", f"  {_quote(sd.input_format or input_format)} ", "OUTPUTFORMAT ",
              f"  {_quote(sd.output_format or output_format)}", "LOCATION", f"  {_quote(sd.location or '')}"]
    return lines + _tblproperties(dict(table.parameters))


def _row(*fields: str) -> str:
    return "\t".join(f.ljust(ALIGN) for f in fields)


def describe(table: Table, *, formatted: bool) -> list[str]:
    """``DESCRIBE [FORMATTED]``: Hive's lines (name, type, comment padded and tab-separated)."""
    sd = table.storage_descriptor
    lines = [_row("# col_name", "data_type", "comment"), ""] if formatted else []
    lines += [_row(c.name, c.type or "", c.comment or "") for c in [*sd.columns, *table.partition_keys]]
    if table.partition_keys:
        lines += ["", "# Partition Information", _row("# col_name", "data_type", "comment"), ""]
        lines += [_row(k.name, k.type or "", k.comment or "") for k in table.partition_keys]
    if not formatted:
        return lines
    lines += ["", "# Detailed Table Information",
              _row("Database:", table.database_name), _row("Owner:", table.owner or table.created_by or ""),
              _row("CreateTime:", table.create_time.isoformat()), _row("LastAccessTime:", "UNKNOWN"),
              _row("Retention:", str(table.retention)), _row("Location:", sd.location or ""),
              _row("Table Type:", table.table_type), "Table Parameters:"]
    lines += [f"\t{k.ljust(ALIGN)}\t{v}" for k, v in sorted(table.parameters.items())]
    if table.is_view:
        return [*lines, "", "# View Information", _row("View Original Text:", table.view_original_text or ""),
                _row("View Expanded Text:", table.view_expanded_text or "")]
    serde, input_format, output_format = _SHOWN_SERDE.get(table.format, _SHOWN_SERDE["csv"])
    library = sd.serde_info.serialization_library if sd.serde_info is not None else None
    lines += ["", "# Storage Information", _row("SerDe Library:", library or serde),
              _row("InputFormat:", sd.input_format or input_format),
              _row("OutputFormat:", sd.output_format or output_format), _row("Compressed:", "Yes" if sd.compressed
                                                                                else "No"),
              _row("Num Buckets:", str(sd.number_of_buckets)), "Storage Desc Params:"]
    serde_parameters = dict(sd.serde_info.parameters) if sd.serde_info is not None else {}
    return lines + [f"\t{k.ljust(ALIGN)}\t{v}" for k, v in sorted(serde_parameters.items())]
