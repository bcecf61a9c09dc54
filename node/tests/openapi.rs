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
