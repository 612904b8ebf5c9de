//! What plugins return, turned into Klieg's plain data: cells and section bodies. Every walk is
//! bounded (items, text, depth), so a plugin returning a million-node tree is refused with a
//! reason instead of costing memory or frames. Runs on the thread that called the plugin.

use crate::limits;
use klieg_model::registry::{FieldKind, FieldValue, FormField, SectionBody, SectionChart, VIEW_MAX_NODES, ViewNode};
use klieg_model::{Cell, CellTone, ChartUnit};
use mlua::{Lua, Table, Value};
use std::sync::Arc;

/// The `klieg.ui` builders: plain tables tagged with their `type`, checked on return.
const UI_PRELUDE: &str = r#"
local ui = {}
function ui.keyvalues(items) return { type = "entries", items = items } end
function ui.masked(items) return { type = "masked", items = items } end
function ui.text(text) return { type = "text", text = text } end
function ui.table(columns, rows) return { type = "table", columns = columns, rows = rows } end
function ui.chart(series, unit) return { type = "chart", series = series, unit = unit } end
function ui.heading(text) return { type = "heading", text = text } end
function ui.badges(items) return { type = "badges", items = items } end
function ui.yaml(text) return { type = "yaml", text = text } end
function ui.buttons(items) return { type = "buttons", items = items } end
function ui.button(id, label) return { type = "buttons", items = { { id = id, label = label } } } end
function ui.form(spec) return { type = "form", id = spec.id, submit = spec.submit, fields = spec.fields } end
function ui.separator() return { type = "separator" } end
return ui
"#;

pub fn ui_builders(lua: &Lua) -> mlua::Result<Table> {
    lua.load(UI_PRELUDE).set_name("=klieg.ui").eval()
}

type Pair = (Arc<str>, Arc<str>);

/// Counts what a conversion has taken, and refuses past the limits.
struct Walk {
    items: usize,
}

impl Walk {
    fn take(&mut self) -> Result<(), String> {
        self.items += 1;
        if self.items > limits::MAX_OUTPUT_ITEMS {
            return Err(format!("returned more than {} items", limits::MAX_OUTPUT_ITEMS));
        }
        Ok(())
    }

    fn text(&mut self, value: &Value) -> Result<Arc<str>, String> {
        self.take()?;
        let text = match value {
            Value::String(s) => s.to_str().map_err(|_| "a text is not UTF-8".to_string())?.to_string(),
            Value::Integer(n) => n.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Nil => String::new(),
            other => return Err(format!("expected a text, got a {}", other.type_name())),
        };
        if text.len() > limits::MAX_OUTPUT_TEXT_BYTES {
            return Err(format!("returned a text longer than {} bytes", limits::MAX_OUTPUT_TEXT_BYTES));
        }
        Ok(Arc::from(text))
    }

    /// The array part of `value`, each element converted by `each`.
    fn list<T>(
        &mut self,
        value: &Value,
        mut each: impl FnMut(&mut Self, Value) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let Value::Table(table) = value else {
            return Err(format!("expected a list, got a {}", value.type_name()));
        };
        let length = table.raw_len();
        if length > limits::MAX_OUTPUT_ITEMS {
            return Err(format!("returned more than {} items", limits::MAX_OUTPUT_ITEMS));
        }
        let mut out = Vec::with_capacity(length.min(1024));
        for index in 1..=length {
            self.take()?;
            let element: Value = table.raw_get(index).map_err(|e| e.to_string())?;
            out.push(each(self, element)?);
        }
        Ok(out)
    }

    fn pairs(&mut self, value: &Value) -> Result<Vec<Pair>, String> {
        self.list(value, |walk, pair| {
            let Value::Table(pair) = pair else { return Err("each item must be a { key, value } pair".to_string()) };
            let key: Value = pair.raw_get(1).map_err(|e| e.to_string())?;
            let value: Value = pair.raw_get(2).map_err(|e| e.to_string())?;
            Ok((walk.text(&key)?, walk.text(&value)?))
        })
    }

    fn number(&mut self, value: &Value) -> Result<f64, String> {
        self.take()?;
        match value {
            Value::Integer(n) => Ok(*n as f64),
            Value::Number(n) if n.is_finite() => Ok(*n),
            other => Err(format!("expected a finite number, got a {}", other.type_name())),
        }
    }
}

fn tone(value: Option<String>) -> Result<CellTone, String> {
    Ok(match value.as_deref() {
        None | Some("normal") => CellTone::Normal,
        Some("ok" | "good") => CellTone::Good,
        Some("warning") => CellTone::Warning,
        Some("error" | "bad") => CellTone::Bad,
        Some(other) => return Err(format!("unknown tone {other:?} (normal, ok, warning, error)")),
    })
}

/// A cell: a text, a number, a boolean, nil (empty), or `{ text = …, sort = number?, tone = … }`.
pub fn to_cell(value: Value) -> Result<Cell, String> {
    let mut walk = Walk { items: 0 };
    Ok(match value {
        Value::Nil => Cell::Empty,
        Value::Boolean(b) => Cell::Boolean(b),
        Value::Integer(n) => Cell::Integer(n),
        Value::Number(n) if n.is_finite() => Cell::Number(n),
        Value::String(_) => Cell::Text(walk.text(&value)?, CellTone::Normal),
        Value::Table(table) => {
            let text = walk.text(&table.raw_get::<Value>("text").map_err(|e| e.to_string())?)?;
            let tone = tone(table.raw_get("tone").map_err(|_| "`tone` must be a text".to_string())?)?;
            let sort: Value = table.raw_get("sort").map_err(|e| e.to_string())?;
            match sort {
                Value::Nil => Cell::Text(text, tone),
                sort => Cell::Measure(walk.number(&sort)?, text, tone),
            }
        }
        other => return Err(format!("a cell cannot be a {}", other.type_name())),
    })
}

/// What a relation's `find` returns: `{ { kind = "plural.group", name = …, namespace = …?,
/// label = … }, … }`, at most [`klieg_model::registry::MAX_RELATIONS`].
pub fn to_relations(value: Value) -> Result<Vec<klieg_model::registry::Relation>, String> {
    use klieg_model::registry::{MAX_RELATIONS, RelatedKind, Relation};
    if matches!(value, Value::Nil) {
        return Ok(Vec::new());
    }
    let mut walk = Walk { items: 0 };
    let relations = walk.list(&value, |walk, item| {
        let Value::Table(item) = item else { return Err("each relation is { kind, name, label }".to_string()) };
        let field = |name: &str| item.raw_get::<Value>(name).map_err(|e| e.to_string());
        let kind = walk.text(&field("kind")?)?;
        let crate::manifest::KindName::Kind { group, plural } =
            crate::manifest::KindName::parse(&kind).map_err(|e| e.to_string())?
        else {
            return Err("a relation names one kind, not *".to_string());
        };
        let namespace = match field("namespace")? {
            Value::Nil => None,
            other => Some(walk.text(&other)?),
        };
        let label = walk.text(&field("label")?)?;
        Ok(Relation {
            kind: RelatedKind::Key(klieg_model::KindKey { group, plural }),
            namespace,
            name: walk.text(&field("name")?)?,
            label: klieg_model::Text::Plain(label),
        })
    })?;
    Ok(relations.into_iter().take(MAX_RELATIONS).collect())
}

/// What an action's `run` returns: `{ patch = { … } }`, the merge patch to apply.
pub fn to_patch(lua: &Lua, value: Value) -> Result<serde_json::Value, String> {
    use mlua::LuaSerdeExt;
    let Value::Table(plan) = value else {
        return Err(format!("an action returns {{ patch = {{ … }} }}, not a {}", value.type_name()));
    };
    let patch: Value = plan.raw_get("patch").map_err(|e| e.to_string())?;
    if !matches!(patch, Value::Table(_)) {
        return Err("an action returns { patch = { … } }".to_string());
    }
    let patch: serde_json::Value = lua.from_value(patch).map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&patch).map_err(|e| e.to_string())?.len();
    if bytes > limits::MAX_PATCH_BYTES {
        return Err(format!("returned a patch of {bytes} bytes (at most {})", limits::MAX_PATCH_BYTES));
    }
    Ok(patch)
}

/// A section body as built with `klieg.ui`; `nil` shows nothing.
pub fn to_section(value: Value) -> Result<Option<SectionBody>, String> {
    let Value::Table(table) = value else {
        return match value {
            Value::Nil => Ok(None),
            other => Err(format!("a section must be built with klieg.ui, not a {}", other.type_name())),
        };
    };
    let mut walk = Walk { items: 0 };
    let kind: String = table.raw_get("type").map_err(|_| "a section needs a `type`".to_string())?;
    section_body(&mut walk, &table, &kind)?
        .map(|body| Some(body.within_limits()))
        .ok_or_else(|| format!("unknown section type {kind:?}"))
}

/// The body of a node of type `kind`, or `None` when that is no section type.
fn section_body(walk: &mut Walk, table: &Table, kind: &str) -> Result<Option<SectionBody>, String> {
    let field = |name: &str| table.raw_get::<Value>(name).map_err(|e| e.to_string());
    let body = match kind {
        "entries" => SectionBody::Entries(walk.pairs(&field("items")?)?),
        "masked" => SectionBody::Masked(walk.pairs(&field("items")?)?),
        "text" => SectionBody::Text(walk.text(&field("text")?)?),
        "table" => {
            let columns = walk.list(&field("columns")?, |walk, c| walk.text(&c))?;
            let rows = walk.list(&field("rows")?, |walk, row| walk.list(&row, |walk, c| walk.text(&c)))?;
            SectionBody::Table { columns, rows }
        }
        "chart" => {
            let series = walk.list(&field("series")?, |walk, one| {
                let Value::Table(one) = one else { return Err("each series is { name, points }".to_string()) };
                let name = walk.text(&one.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
                let points = walk.list(&one.raw_get::<Value>(2).map_err(|e| e.to_string())?, |walk, point| {
                    let Value::Table(point) = point else { return Err("each point is { x, y }".to_string()) };
                    let x = walk.number(&point.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
                    let y = walk.number(&point.raw_get::<Value>(2).map_err(|e| e.to_string())?)?;
                    Ok([x, y])
                })?;
                Ok((name, points))
            })?;
            let unit = match table.raw_get::<Option<String>>("unit").map_err(|e| e.to_string())?.as_deref() {
                None | Some("count") => ChartUnit::Count,
                Some("bytes") => ChartUnit::Bytes,
                Some("cores") => ChartUnit::Cores,
                Some(other) => return Err(format!("unknown chart unit {other:?} (count, bytes, cores)")),
            };
            SectionBody::Chart(SectionChart { unit, series })
        }
        _ => return Ok(None),
    };
    Ok(Some(body))
}

/// A field of a form (or a setting): `{ key, label, type = "text"|"number"|"toggle"|"choice"|"secret",
/// default = …, choices = { … }, help = … }`.
fn form_field(walk: &mut Walk, value: Value) -> Result<FormField, String> {
    let Value::Table(table) = value else { return Err("each field is { key, label, type }".to_string()) };
    let field = |name: &str| table.raw_get::<Value>(name).map_err(|e| e.to_string());
    let key = walk.text(&field("key")?)?;
    if key.is_empty() || key.len() > 60 {
        return Err("a field's key has 1 to 60 characters".to_string());
    }
    let label = walk.text(&field("label")?)?;
    let kind_name = walk.text(&field("type")?)?;
    let kind = match &*kind_name {
        "" | "text" => FieldKind::Text,
        "number" => FieldKind::Number,
        "toggle" => FieldKind::Toggle,
        "secret" => FieldKind::Secret,
        "choice" => FieldKind::Choice(walk.list(&field("choices")?, |walk, c| walk.text(&c))?),
        other => return Err(format!("unknown field type {other:?} (text, number, toggle, choice, secret)")),
    };
    let default = match field("default")? {
        Value::Nil => None,
        Value::Boolean(on) => Some(FieldValue::Toggle(on)),
        value @ (Value::Integer(_) | Value::Number(_)) => Some(FieldValue::Number(walk.number(&value)?)),
        value => Some(FieldValue::Text(walk.text(&value)?)),
    };
    let help = match field("help")? {
        Value::Nil => None,
        value => Some(walk.text(&value)?),
    };
    Ok(FormField { key, label, kind, default, help })
}

/// What a view's `build` returns: a list of nodes built with `klieg.ui`, at most
/// [`VIEW_MAX_NODES`] (a longer list is refused whole, not cut: its author sees why).
pub fn to_view_nodes(value: Value) -> Result<Vec<ViewNode>, String> {
    let mut walk = Walk { items: 0 };
    if let Value::Table(list) = &value
        && list.raw_len() > VIEW_MAX_NODES
    {
        return Err(format!("a view has at most {VIEW_MAX_NODES} nodes, this one {}", list.raw_len()));
    }
    walk.list(&value, |walk, node| {
        let Value::Table(table) = node else { return Err("each node is built with klieg.ui".to_string()) };
        let kind: String = table.raw_get("type").map_err(|_| "a node needs a `type`".to_string())?;
        if let Some(body) = section_body(walk, &table, &kind)? {
            return Ok(ViewNode::Body(body.within_limits()));
        }
        let field = |name: &str| table.raw_get::<Value>(name).map_err(|e| e.to_string());
        Ok(match kind.as_str() {
            "heading" => ViewNode::Heading(walk.text(&field("text")?)?),
            "yaml" => ViewNode::Yaml(walk.text(&field("text")?)?),
            "separator" => ViewNode::Separator,
            "badges" => ViewNode::Badges(walk.list(&field("items")?, |walk, item| match item {
                Value::Table(pair) => {
                    let text = walk.text(&pair.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
                    Ok((text, tone(pair.raw_get(2).map_err(|_| "a tone is a text".to_string())?)?))
                }
                other => Ok((walk.text(&other)?, CellTone::Normal)),
            })?),
            "buttons" => ViewNode::Buttons(walk.list(&field("items")?, |walk, item| {
                let Value::Table(button) = item else { return Err("each button is { id, label }".to_string()) };
                let id = walk.text(&button.raw_get::<Value>("id").map_err(|e| e.to_string())?)?;
                let label = walk.text(&button.raw_get::<Value>("label").map_err(|e| e.to_string())?)?;
                Ok((id, label))
            })?),
            "form" => ViewNode::Form {
                id: walk.text(&field("id")?)?,
                submit: walk.text(&field("submit")?)?,
                fields: walk.list(&field("fields")?, form_field)?,
            },
            other => return Err(format!("unknown node type {other:?}")),
        })
    })
}
