"""Reference pages generated from the code at build time, so they cannot drift from it.

An mkdocs hook (``hooks:`` in mkdocs.yml). A page asks for a generated block with a marker line
``<!-- generated: NAME -->``; ``on_page_markdown`` replaces it with the text ``GENERATORS[NAME]()``
returns. An unknown name is an error, so a typo fails the build instead of leaving a hole.

- ``cli``: the help of every ``lived-themes`` command, as click formats it from the typer app.
- ``experiment-config`` / ``topic-config``: every key of the pydantic experiment configs with its
  type, default, allowed values and meaning (the field's description, else its trailing ``#``
  comment in the source, else the section's docstring), walked from ``model_json_schema()``.
- ``codebook-schema``: the same for the codebook YAML (:class:`lived_themes.codebook.Codebook`).
- ``registered``: the registered coder and topic-model names a config may use, with the ``params``
  each takes (its constructor arguments, as the config check reads them) and their defaults.

The JSON schemas themselves are published next to the pages (``reference/*.schema.json``) for
editors that validate YAML.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import sys
import textwrap
import tokenize
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

# Document the code in this checkout (../../src), not whichever copy of the package is installed.
SRC = Path(__file__).resolve().parents[2] / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

MARKER = re.compile(r"^<!--\s*generated:\s*([\w-]+)\s*-->\s*$", re.MULTILINE)
HELP_WIDTH = 100


# ----- CLI --------------------------------------------------------------------------------------

def _plain(command: Any) -> Any:
    """Ask typer for click's plain-text help rather than rich boxes (which do not survive Markdown)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    return command


def cli_commands() -> list[tuple[str, str]]:
    """``[(command path, help text)]`` for the group and every command, in the app's order."""
    import typer

    from lived_themes.cli import app

    group = _plain(typer.main.get_command(app))
    root = group.context_class(group, info_name="lived-themes", terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
    out = [("lived-themes", group.get_help(root))]
    for name in group.list_commands(root):
        command = _plain(group.get_command(root, name))
        ctx = command.context_class(command, info_name=name, parent=root, terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
        out.append((f"lived-themes {name}", command.get_help(ctx)))
    return out


def cli_reference() -> str:
    parts = []
    for path, text in cli_commands():
        level = "##" if path == "lived-themes" else "###"
        parts.append(f"{level} `{path}`\n\n```text\n{text.rstrip()}\n```\n")
        if path == "lived-themes":
            parts.append("## Commands\n")
    return "\n".join(parts)


# ----- pydantic schemas -------------------------------------------------------------------------

def _models_below(model: type) -> dict[str, type]:
    """Every pydantic model reachable from ``model``'s fields, by class name (= the schema's $defs key)."""
    from pydantic import BaseModel

    found: dict[str, type] = {}

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for field in tp.model_fields.values():
                visit(field.annotation)
        for arg in typing.get_args(tp):
            visit(arg)

    visit(model)
    return found


def field_comments(model: type) -> dict[str, str]:
    """Trailing ``# comment`` on each field's line, and ``#:`` comment lines just above it, from the source."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    above: list[str] = []
    line_field: dict[int, str] = {}
    pattern = re.compile(r"^\s{4}(\w+)\s*:")
    for number, line in enumerate(source.splitlines(), start=1):
        match = pattern.match(line)
        if match:
            line_field[number] = match.group(1)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        row = tok.start[0]
        text = tok.string.lstrip("#:").strip()
        if row in line_field and not tok.line[: tok.start[1]].strip().startswith("#"):
            comments[line_field[row]] = text
        elif tok.string.startswith("#:"):
            above.append(text)
            if row + 1 in line_field:
                comments[line_field[row + 1]] = " ".join(above)
                above = []
    return comments


def _type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "section"
    if "anyOf" in prop:
        kinds = [_type_text(p) for p in prop["anyOf"]]
        return " or ".join(dict.fromkeys(kinds))
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type", "any")
    if kind == "array":
        item = prop.get("items", {})
        return "list of sections" if "$ref" in item else f"list of {_type_text(item)}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"mapping to {_type_text(values)}" if isinstance(values, dict) else "mapping"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false", "null": "null"}.get(kind, kind)


def _bounds(prop: dict[str, Any]) -> str:
    words = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<", "minLength": "length ≥", "minItems": "items ≥"}
    found = [f"{sign} {prop[key]}" for key, sign in words.items() if key in prop]
    for option in prop.get("anyOf", []):
        found += [f"{sign} {option[key]}" for key, sign in words.items() if key in option]
    return ", ".join(found)


def _default_text(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if prop.get("x-section"):
        return "see below"
    if "default" not in prop:
        return "–"
    if prop["default"] == "":
        return '`""`'
    text = yaml.safe_dump(prop["default"], default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip()
    return f"`{text.removesuffix('...').strip()}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _factory_default(classes: dict[str, type], name: str, key: str) -> Any:
    """A default made by a ``default_factory`` (absent from the JSON schema), as the YAML a user would write."""
    from pydantic import BaseModel

    field = getattr(classes.get(name), "model_fields", {}).get(key)
    if field is None or field.default_factory is None:
        return _MISSING
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return _SECTION
    if isinstance(value, list):
        return [v.model_dump(mode="json", exclude_defaults=True) if isinstance(v, BaseModel) else v for v in value]
    return value


_MISSING, _SECTION = object(), object()


def _walk(schema: dict[str, Any], defs: dict[str, Any], prefix: str, comments: dict[str, dict[str, str]],
          name: str, classes: dict[str, type] | None = None) -> Iterator[tuple[str, dict[str, Any], bool, str, str | None]]:
    """(key path, property, required, meaning, nested $defs name) for every key, depth first."""
    classes = classes or {}
    required = set(schema.get("required", []))
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        ref = _ref_of(prop)
        meaning = prop.get("description") or comments.get(name, {}).get(key, "")
        if "default" not in prop:
            made = _factory_default(classes, name, key)
            if made is _SECTION:
                prop = {**prop, "x-section": True}
            elif made is not _MISSING:
                prop = {**prop, "default": made}
        yield path, prop, key in required, meaning, ref
        if ref is not None:
            sub = f"{path}[]." if prop.get("type") == "array" else f"{path}."
            yield from _walk(defs[ref], defs, sub, comments, ref, classes)


def _ref_of(prop: dict[str, Any]) -> str | None:
    for candidate in (prop, prop.get("items", {}), *prop.get("anyOf", [])):
        if "$ref" in candidate:
            return candidate["$ref"].rsplit("/", 1)[-1]
        if "$ref" in candidate.get("items", {}):
            return candidate["items"]["$ref"].rsplit("/", 1)[-1]
    return None


def config_keys(model: type) -> list[str]:
    """Every key path of a config model (``data.path``, ``splits[].kind``, ...), as the reference lists them."""
    schema = model.model_json_schema()
    return [path for path, *_ in _walk(schema, schema.get("$defs", {}), "", {}, model.__name__)]


def schema_reference(model: type, *, heading: str = "###") -> str:
    """Markdown tables, one per section, of every key of a pydantic model, from its JSON schema."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    classes = _models_below(model)
    comments = {name: field_comments(cls) for name, cls in classes.items()}
    sections: dict[str, list[str]] = {"": []}
    section_doc: dict[str, str] = {"": inspect.cleandoc(model.__doc__ or "")}
    for path, prop, required, meaning, ref in _walk(schema, defs, "", comments, model.__name__, classes):
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        row = f"| `{path}` | {_cell(_type_text(prop))} | {_cell(_default_text(prop, required))} | {_cell(_bounds(prop))} | {_cell(meaning)} |"
        sections.setdefault(parent, []).append(row)
        if ref is not None:
            sub = f"{path}[]" if prop.get("type") == "array" else path
            sections.setdefault(sub, [])
            doc = classes[ref].__doc__ if ref in classes else defs[ref].get("description")
            section_doc[sub] = inspect.cleandoc(doc or "")
    out = []
    for section, rows in sections.items():
        if not rows:
            continue
        title = f"`{section}`" if section else "Top level"
        out.append(f"{heading} {title}\n")
        if section_doc.get(section):
            out.append(section_doc[section] + "\n")
        if all(row.endswith("|  |") for row in rows):  # no meaning in the code for any key here: no empty column
            out.append("| key | type | default | bounds |\n|---|---|---|---|")
            out.append("\n".join(row[: -len("  |")] for row in rows) + "\n")
        else:
            out.append("| key | type | default | bounds | meaning |\n|---|---|---|---|---|")
            out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def experiment_config_reference() -> str:
    from lived_themes.config.coding import ExperimentConfig

    return schema_reference(ExperimentConfig)


def topic_config_reference() -> str:
    from lived_themes.config.topics import TopicExperimentConfig

    return schema_reference(TopicExperimentConfig)


def codebook_schema_reference() -> str:
    from lived_themes.codebook import Codebook

    return schema_reference(Codebook)


def _params_text(cls: type) -> str:
    """``name=default`` for each constructor argument a config's ``params`` may set (as the registry reads them)."""
    from lived_themes.registry import constructor_params

    signature = inspect.signature(cls.__init__).parameters
    parts = []
    for name in constructor_params(cls):
        default = signature[name].default if name in signature else inspect.Parameter.empty
        parts.append(f"`{name}`" if default is inspect.Parameter.empty else f"`{name}={default!r}`")
    return ", ".join(parts) or "none"


def registered_reference() -> str:
    from lived_themes.registry import CODERS, TOPIC_MODELS, get_coder_class, get_topic_model_class

    def listing(table: dict[str, str], load: Callable[[str], type]) -> str:
        rows = []
        for name, target in table.items():
            params = _params_text(load(name))
            rows.append(f"| `{name}` | `{target}` | {_cell(params)} |")
        return "\n".join(rows)

    return (
        "| coder (`coders[].name`) | class | `params` (default) |\n|---|---|---|\n" + listing(CODERS, get_coder_class) + "\n\n"
        "| topic model (`models[].name`) | class | `params` (default) |\n|---|---|---|\n" + listing(TOPIC_MODELS, get_topic_model_class) + "\n"
    )


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_reference,
    "experiment-config": experiment_config_reference,
    "topic-config": topic_config_reference,
    "codebook-schema": codebook_schema_reference,
    "registered": registered_reference,
}


def expand(markdown: str, *, where: str = "page") -> str:
    """Replace every generated-block marker in ``markdown``; an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"{where}: unknown generated block {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]().rstrip() + "\n"

    return MARKER.sub(replace, markdown)


def schemas() -> dict[str, dict[str, Any]]:
    from lived_themes.codebook import Codebook
    from lived_themes.config.coding import ExperimentConfig
    from lived_themes.config.topics import TopicExperimentConfig

    return {
        "reference/experiment.schema.json": ExperimentConfig.model_json_schema(),
        "reference/topic-experiment.schema.json": TopicExperimentConfig.model_json_schema(),
        "reference/codebook.schema.json": Codebook.model_json_schema(),
    }


# ----- mkdocs hook events -----------------------------------------------------------------------

def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, schema in schemas().items():
        files.append(File.generated(config, uri, content=json.dumps(schema, indent=2) + "\n"))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown, where=page.file.src_uri)
