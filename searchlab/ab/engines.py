"""Where the generated SQL of ``searchlab.ab.warehouse`` runs: DuckDB (embedded, the default)
or Spark (``searchlab[spark]``, for data on a cluster).

An engine exposes the experiment's rows as one relation (``data``) and runs queries whose
results are small (per-arm statistics and value histograms): the rows stay in the engine,
which reads and aggregates them streaming. The two engines get the same SQL text; they differ
only in how identifiers are quoted, how a file or table becomes the ``data`` relation, and the
name of the failed-cast function. Engine errors become one-line ``InputError``s carrying the
engine's own message.

Inputs:

- files: CSV or Parquet, given as files, directories (every ``*.parquet``/``*.csv`` below
  them) or globs; several may be given;
- ``sql``: a SELECT run by the engine, which may read files itself or query ``data`` (the
  files given with it);
- a table already in memory (pandas, polars or pyarrow): DuckDB scans it in place; Spark
  gets a copy.
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchlab.errors import DataFormatError, InputError

ENGINES = ("duckdb", "spark")
VIEW = "data"
SQL_VIEW = "searchlab_input"
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}


@dataclass(frozen=True)
class Source:
    """The experiment's rows: ``paths`` (files, directories, globs), an engine ``sql`` query,
    or an in-memory ``frame``."""

    paths: tuple[str, ...] = ()
    sql: str | None = None
    frame: Any = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        if self.sql is not None:
            return "the --sql query"
        if self.frame is not None:
            return "the table"
        return self.paths[0] if len(self.paths) == 1 else f"{len(self.paths)} inputs"


def check_engine(name: str) -> None:
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}", hint="use one of: " + ", ".join(ENGINES))


def expand_paths(paths: tuple[str, ...]) -> tuple[str, list[str]]:
    """(format, files) for files, directories and globs; every path must match something and
    every file have one format (by extension: .parquet/.pq, .csv/.tsv/.txt; CSV otherwise)."""
    files: list[str] = []
    for raw in paths:
        text = str(raw)
        if glob.has_magic(text):
            matched = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not matched:
                raise InputError(f"no file matches {text}", hint="check the pattern")
            files += matched
            continue
        p = Path(text)
        if not p.exists():
            raise InputError(f"data file {p} does not exist", hint="check the path")
        if p.is_dir():
            found = sorted(
                str(f)
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in _FORMATS and not f.name.startswith(".")
            )
            if not found:
                raise InputError(
                    f"folder {p} holds no .parquet or .csv file",
                    hint="give a folder of Parquet files, a file, or a glob",
                )
            files += found
        else:
            files.append(str(p))
    kinds = {_FORMATS.get(Path(f).suffix.lower(), "csv") for f in files}
    if len(kinds) > 1:
        raise InputError(
            "the inputs mix Parquet and CSV files", hint="give files of one format at a time"
        )
    return kinds.pop(), files


def open_engine(
    name: str, source: Source, *, memory_limit: str | None = None, session: Any = None
) -> Engine:
    """An engine with ``source`` registered as the relation the generated SQL reads."""
    check_engine(name)
    if name == "spark":
        engine: Engine = SparkEngine(session)
    else:
        engine = DuckDBEngine(memory_limit=memory_limit)
    try:
        engine.register(source)
    except BaseException:
        engine.close()
        raise
    return engine


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = next((part.strip() for part in text.splitlines() if part.strip()), type(exc).__name__)
    return line[:300]


class Engine:
    """The interface the SQL generator needs."""

    name = "engine"
    relation = VIEW  # what the generated SQL reads
    source_text = "table"

    def quote(self, identifier: str) -> str:
        raise NotImplementedError

    def try_double(self, expression: str) -> str:
        return f"TRY_CAST({expression} AS DOUBLE)"

    def register(self, source: Source) -> None:
        raise NotImplementedError

    def columns(self) -> dict[str, str]:
        """Column name → its kind (see ``_kind``)."""
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kind(sql_type: str) -> str:
    """A column's SQL type as "boolean", "integer", "decimal:SCALE", "float", "text" or
    "other" (DuckDB and Spark spellings)."""
    t = sql_type.strip().upper()
    if t in ("BOOLEAN", "BOOL"):
        return "boolean"
    if t.startswith(("DECIMAL", "NUMERIC")):
        inside = t[t.find("(") + 1 : t.find(")")] if "(" in t else ""
        scale = inside.split(",")[1].strip() if "," in inside else "0"
        return f"decimal:{int(scale)}"
    if t.startswith(("FLOAT", "DOUBLE", "REAL")):
        return "float"
    integers = ("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
                "USMALLINT", "UTINYINT", "UHUGEINT", "INTEGER", "LONG", "SHORT", "BYTE")  # fmt: skip
    if t.startswith(integers):
        return "integer"
    if t in ("VARCHAR", "STRING", "TEXT") or t.startswith(("VARCHAR", "CHAR", "STRING")):
        return "text"
    return "other"


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, *, memory_limit: str | None = None) -> None:
        import duckdb

        self._error = duckdb.Error
        config = {} if memory_limit is None else {"memory_limit": memory_limit}
        try:
            self.con = duckdb.connect(config=config)
        except duckdb.Error as exc:
            raise InputError(f"DuckDB refused the settings: {_first_line(exc)}") from exc
        self.con.execute("SET enable_progress_bar = false")  # stdout is ours

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def register(self, source: Source) -> None:
        self.source_text = source.describe()
        if source.frame is not None:
            self.con.register(VIEW, source.frame)
        elif source.paths:
            kind, files = expand_paths(source.paths)
            listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
            reader = (
                f"read_parquet({listed}, union_by_name = true)"
                if kind == "parquet"
                else f"read_csv({listed}, header = true, union_by_name = true)"
            )
            self._run(f"CREATE VIEW {VIEW} AS SELECT * FROM {reader}", read=files)
        if source.sql is not None:
            self._run(f"CREATE VIEW {SQL_VIEW} AS {source.sql}", user_sql=True)
            self.relation = SQL_VIEW

    def _run(self, statement: str, *, read: list[str] | None = None, user_sql: bool = False):
        try:
            return self.con.execute(statement).fetchall()
        except self._error as exc:
            raise self._wrap(exc, read=read, user_sql=user_sql) from exc

    def _wrap(self, exc: Exception, *, read: list[str] | None = None, user_sql: bool = False):
        message = _first_line(exc)
        if user_sql or self.relation == SQL_VIEW:
            return InputError(
                f"the --sql query failed in DuckDB: {message}",
                hint="fix the query (the files given with --data are the table 'data')",
            )
        where = read[0] if read and len(read) == 1 else self.source_text
        return DataFormatError(
            f"cannot read the table: {message}",
            path=where,
            hint="give CSV files with a header row, or Parquet files",
        )

    def columns(self) -> dict[str, str]:
        described = self._run(f"DESCRIBE SELECT * FROM {self.relation}")
        return {str(row[0]): _kind(str(row[1])) for row in described}

    def rows(self, sql: str) -> list[tuple]:
        return self._run(sql)

    def close(self) -> None:
        self.con.close()


def local_spark(master: str = "local[*]", app: str = "searchlab-ab") -> Any:
    """A Spark session for this machine: no web UI, no progress bars, quiet logs, and (for a
    local master) the driver bound to the loopback address only."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            # we create no tables: keep Spark's empty spark-warehouse/ out of the user's folder
            .config(
                "spark.sql.warehouse.dir",
                os.path.join(tempfile.gettempdir(), "searchlab-spark-warehouse"),
            )
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(Engine):
    """Spark SQL on a given session, or on a local one started here (and stopped by close)."""

    name = "spark"

    def __init__(self, session: Any = None) -> None:
        from searchlab._optional import require

        require("pyspark", "spark")
        from pyspark.sql import SparkSession

        # PySpark logs every failed query as a JSON line on stderr; the InputError says it once
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)

        if session is None:
            session = SparkSession.getActiveSession()  # one the caller already runs
        self._own = session is None
        if session is None:
            master = os.environ.get("SEARCHLAB_SPARK_MASTER", "local[*]")
            try:
                session = local_spark(master)
            except Exception as exc:  # no Java, a bad master URL...
                raise InputError(
                    f"could not start Spark: {_first_line(exc)}",
                    hint="install a Java runtime (e.g. Debian's default-jre-headless) and "
                    "pip install 'searchlab[spark]'",
                ) from exc
        self.spark = session
        self._views: list[str] = []

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def try_double(self, expression: str) -> str:
        return f"try_cast({expression} AS DOUBLE)"

    def register(self, source: Source) -> None:
        self.source_text = source.describe()
        if source.frame is not None:
            frame = source.frame
            if not hasattr(frame, "iloc"):
                frame = frame.to_pandas()
            self._view(self.spark.createDataFrame(frame), VIEW)
        elif source.paths:
            kind, files = expand_paths(source.paths)
            reader = self.spark.read
            try:
                if kind == "parquet":
                    df = reader.parquet(*files)
                else:
                    df = reader.option("header", True).option("inferSchema", True).csv(files)
            except Exception as exc:
                raise DataFormatError(
                    f"cannot read the table: {_first_line(exc)}",
                    path=files[0] if len(files) == 1 else self.source_text,
                    hint="give CSV files with a header row, or Parquet files",
                ) from exc
            self._view(df, VIEW)
        if source.sql is not None:
            try:
                self._view(self.spark.sql(source.sql), SQL_VIEW)
            except Exception as exc:
                raise InputError(
                    f"the --sql query failed in Spark: {_first_line(exc)}",
                    hint="fix the query (the files given with --data are the table 'data')",
                ) from exc
            self.relation = SQL_VIEW

    def _view(self, df: Any, name: str) -> None:
        df.createOrReplaceTempView(name)
        self._views.append(name)

    def columns(self) -> dict[str, str]:
        df = self.spark.table(self.relation)
        return {name: _kind(kind) for name, kind in df.dtypes}

    def rows(self, sql: str) -> list[tuple]:
        try:
            return [tuple(row) for row in self.spark.sql(sql).collect()]
        except Exception as exc:
            where = "the --sql query" if self.relation == SQL_VIEW else self.source_text
            raise InputError(
                f"Spark could not run the analysis of {where}: {_first_line(exc)}",
                hint="check the query and the column types",
            ) from exc

    def close(self) -> None:
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()
        if self._own:
            self.spark.stop()
