//! The OpenAPI document served at `/v1/openapi.json` against the router: every route the
//! router registers is documented with its method, no documented route is stale, and every
//! operation documents its problem answers.

use std::collections::BTreeSet;

use serde_json::Value;

/// The `.route("PATH", METHOD(handler))` calls of `api::router`, as (method, path) with
/// axum's `{*rest}` written as OpenAPI's `{rest}`.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api.rs");
    let body = source.split("pub fn router(").nth(1).expect("api.rs defines router");
    let body = body.split("\n}\n").next().expect("router ends");
    let mut routes = BTreeSet::new();
    for call in body.split(".route(\"").skip(1) {
        let (path, rest) = call.split_once('"').expect("a quoted path");
        let method = rest.trim_start_matches(',').trim_start();
        let method = method.split('(').next().expect("a method router").to_owned();
        assert!(["get", "post", "put", "delete", "patch"].contains(&method.as_str()), "{path}: `{method}`");
        routes.insert((method, path.replace("{*", "{")));
    }
    routes
}

fn document() -> Value {
    serde_json::from_str(tally_node::api::openapi::DOCUMENT).expect("the document is JSON")
}

fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_document_names_exactly_the_routes_of_the_router() {
    let router = router_routes();
    assert!(router.len() >= 30, "the router parse found too few routes: {router:?}");
    let documented = documented_routes(&document());
    let missing: Vec<_> = router.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&router).collect();
    assert!(missing.is_empty(), "routes missing from openapi.json: {missing:?}");
    assert!(stale.is_empty(), "documented routes the router does not have: {stale:?}");
}

#[test]
fn the_document_is_openapi_3_1_with_problem_answers_and_path_parameters() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert_eq!(
                responses.get("default").and_then(|r| r["$ref"].as_str()),
                Some("#/components/responses/Problem"),
                "{method} {path}: errors are problem documents"
            );
            // Every `{name}` of the path is a documented path parameter.
            let parameters: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            let named: BTreeSet<&str> =
                path.split('{').skip(1).map(|part| part.split('}').next().expect("closed")).collect();
            assert_eq!(parameters, named, "{method} {path}");
        }
    }
}

/// Why `schema` (of a path or query parameter) does not say what the node accepts, or `None`
/// when it does: a string needs a `pattern`, an `enum`, a `const` or a named `format`; an
/// integer needs both bounds; alternatives and list items each need the same. `$ref`s are
/// followed into `components/schemas`.
fn unconstrained(document: &Value, schema: &Value) -> Option<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/components/schemas/").expect("a local schema reference");
        let target = &document["components"]["schemas"][name];
        assert!(target.is_object(), "`{reference}` names no schema");
        return unconstrained(document, target).map(|why| format!("{name}: {why}"));
    }
    if let Some(alternatives) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        return alternatives.iter().find_map(|alternative| unconstrained(document, alternative));
    }
    if schema.get("enum").is_some() || schema.get("const").is_some() {
        return None;
    }
    match schema["type"].as_str() {
        Some("string") if schema.get("pattern").is_some() || schema.get("format").is_some() => None,
        Some("integer") if schema.get("minimum").is_some() && schema.get("maximum").is_some() => None,
        Some("array") => unconstrained(document, &schema["items"]),
        _ => Some(format!("{schema} takes values the node refuses")),
    }
}

#[test]
fn every_path_and_query_parameter_says_what_the_node_accepts() {
    let document = document();
    let mut vague = Vec::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            for parameter in operation["parameters"].as_array().expect("parameters") {
                if !matches!(parameter["in"].as_str(), Some("path" | "query")) {
                    continue;
                }
                checked += 1;
                if let Some(why) = unconstrained(&document, &parameter["schema"]) {
                    vague.push(format!("{method} {path} `{}`: {why}", parameter["name"]));
                }
            }
        }
    }
    assert!(checked >= 60, "too few parameters found: {checked}");
    assert!(
        vague.is_empty(),
        "parameters documented more loosely than the handlers parse them:\n{}",
        vague.join("\n")
    );
}
