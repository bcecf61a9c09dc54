//! The Open Badges 3.0 JSON schemas (bundled in `client/schemas/`) and validation against
//! them.
//!
//! The schemas are written by us from the Open Badges 3.0 specification's data model (the
//! `Achievement` and `AchievementCredential` classes and the classes they hold), not copied:
//! 1EdTech publishes its schemas only on its own site and repositories, and this client
//! bundles nothing it did not take from a package registry under a licence that allows it.
//! They check what a verifier relies on (required members, their types, URIs and RFC 3339
//! dates) and allow extensions, as the specification does. Context URLs are not pinned, so
//! credentials issued elsewhere under earlier OB 3.0 contexts validate too.

use std::sync::LazyLock;

use serde_json::Value;

use super::Ob3Error;

const ACHIEVEMENT_SCHEMA_ID: &str = "urn:tally:schema:ob-3.0:achievement";
const ACHIEVEMENT_SCHEMA: &str = include_str!("../../schemas/ob-3.0-achievement.schema.json");
const CREDENTIAL_SCHEMA: &str = include_str!("../../schemas/ob-3.0-credential.schema.json");
/// Problems reported per document, at most: enough to fix a file, bounded for a hostile one.
const ERRORS_REPORTED_MAX: usize = 20;
/// Characters of one problem's message, at most.
const ERROR_CHARS_MAX: usize = 240;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("the bundled schemas are JSON (checked by a test)")
}

static ACHIEVEMENT: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&parse(ACHIEVEMENT_SCHEMA))
        .expect("the bundled achievement schema compiles (checked by a test)")
});

static CREDENTIAL: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    // The credential schema refers to the achievement schema by its `$id`.
    let registry = jsonschema::Registry::new()
        .add(ACHIEVEMENT_SCHEMA_ID, parse(ACHIEVEMENT_SCHEMA))
        .and_then(|registry| registry.prepare())
        .expect("the bundled achievement schema registers (checked by a test)");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&parse(CREDENTIAL_SCHEMA))
        .expect("the bundled credential schema compiles (checked by a test)")
});

fn check(validator: &jsonschema::Validator, document: &Value, what: &str) -> Result<(), Ob3Error> {
    let problems: Vec<String> = validator
        .iter_errors(document)
        .take(ERRORS_REPORTED_MAX)
        .map(|error| {
            let at = error.instance_path().to_string();
            // Some messages quote the whole instance; a credential is long.
            let mut message = error.to_string();
            if message.chars().count() > ERROR_CHARS_MAX {
                message = message.chars().take(ERROR_CHARS_MAX).collect::<String>() + "…";
            }
            format!("{}: {message}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Ob3Error::Schema(format!("not a valid OB 3.0 {what}: {}", problems.join("; "))))
    }
}

/// Validates an OB 3.0 `Achievement`.
pub fn check_achievement(achievement: &Value) -> Result<(), Ob3Error> {
    check(&ACHIEVEMENT, achievement, "Achievement")
}

/// Validates an OB 3.0 `OpenBadgeCredential` / `AchievementCredential`.
pub fn check_credential(credential: &Value) -> Result<(), Ob3Error> {
    check(&CREDENTIAL, credential, "OpenBadgeCredential")
}

/// Validates the achievements of a provider's file: each against the schema, and their ids
/// distinct. Every problem is reported with the achievement's position.
pub fn check_achievements(achievements: &[Value]) -> Result<(), Ob3Error> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (index, achievement) in achievements.iter().enumerate() {
        if let Err(error) = check_achievement(achievement) {
            problems.push(format!("achievement {index}: {error}"));
        }
        if let Some(id) = achievement.get("id").and_then(Value::as_str)
            && let Some(first) = seen.insert(id.to_owned(), index)
        {
            problems.push(format!("achievements {first} and {index} have the same id {id}"));
        }
    }
    if achievements.is_empty() {
        problems.push("the file holds no achievement".to_owned());
    }
    if problems.is_empty() { Ok(()) } else { Err(Ob3Error::Schema(problems.join("\n"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_schemas_compile() {
        LazyLock::force(&ACHIEVEMENT);
        LazyLock::force(&CREDENTIAL);
    }
}
