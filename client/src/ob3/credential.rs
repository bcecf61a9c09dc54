//! Building Open Badges 3.0 credentials from an achievement, and the credential checks that
//! need no ledger: the issuer is the proof's key, and the validity window.
//!
//! A credential is an `OpenBadgeCredential` (VC data model 2.0, OB context 3.0.3) with the
//! issuer as a `Profile` whose id is the signing key's `did:key`, `validFrom` (and
//! `validUntil` when given), a `credentialSubject` naming the recipient either as the
//! developer's account key (a `did:key`, the same key as the `tally1…` address) or as a
//! salted SHA-256 hash of an email address (an `IdentityObject`, so no address is
//! published), the achievement itself, and evidence. Evidence entries are OB 3.0 `Evidence`
//! objects; their `id` is any URI, so evidence naming a ledger fact (a transaction, a usage
//! settlement) can later carry a URI for it without changing the shape.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tally_types::calendar::{civil_from_days, days_from_civil};
use tally_types::{PublicKey, SecretKey};

use super::contexts::{CREDENTIALS_V2, OPEN_BADGES_3_0_3};
use super::proof::{self, ProofOptions};
use super::{Ob3Error, didkey};

/// Who receives a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A developer's account: the subject's id is the account key's `did:key`.
    Account(PublicKey),
    /// An email address, published only as `sha256$hex(sha256(address + salt))`.
    Email(String),
}

impl Recipient {
    /// Reads `tally1…` (an account address) or an email address.
    pub fn parse(text: &str) -> Result<Self, Ob3Error> {
        let text = text.trim();
        if text.starts_with("tally1") {
            return PublicKey::from_address(text)
                .map(Recipient::Account)
                .map_err(|error| Ob3Error::Invalid(format!("recipient `{text}`: {error}")));
        }
        match text.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !text.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                // Email addresses compare case-insensitively in practice; hashing the lower
                // case lets a holder reproduce the hash from the address as they type it.
                Ok(Recipient::Email(text.to_lowercase()))
            }
            _ => Err(Ob3Error::Invalid(format!(
                "recipient `{text}` is neither a tally1… address nor an email address"
            ))),
        }
    }
}

/// What every credential of one issuing run shares.
#[derive(Clone, Debug)]
pub struct IssueSpec {
    /// The OB 3.0 Achievement, as validated against the schema.
    pub achievement: Value,
    /// The issuer key (an issuer key of the member), whose `did:key` is the issuer.
    pub issuer: PublicKey,
    pub issuer_name: Option<String>,
    /// RFC 3339, `Z`.
    pub valid_from: String,
    pub valid_until: Option<String>,
}

/// The salted identity hash of an email address: `sha256$` and the hex SHA-256 of the address
/// followed by the salt (Open Badges `IdentityHash`).
pub fn identity_hash(email: &str, salt: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(format!("{email}{salt}").as_bytes())))
}

/// A random `urn:uuid:` (version 4) for a credential id.
pub fn random_urn_uuid() -> Result<String, Ob3Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| Ob3Error::Invalid(format!("no randomness: {error}")))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    Ok(format!("urn:uuid:{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// A random salt of 16 bytes in hex.
pub fn random_salt() -> Result<String, Ob3Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| Ob3Error::Invalid(format!("no randomness: {error}")))?;
    Ok(hex::encode(bytes))
}

/// The unsigned credential for `recipient`, with id `credential_id`; `salt` is used for an
/// email recipient. `evidence` is a list of OB 3.0 `Evidence` objects (may be empty).
pub fn build(
    spec: &IssueSpec,
    recipient: &Recipient,
    credential_id: &str,
    salt: &str,
    evidence: &[Value],
) -> Value {
    let mut subject = json!({ "type": ["AchievementSubject"], "achievement": spec.achievement });
    match recipient {
        Recipient::Account(key) => subject["id"] = didkey::did_key(key).into(),
        Recipient::Email(email) => {
            subject["identifier"] = json!([{
                "type": "IdentityObject",
                "identityHash": identity_hash(email, salt),
                "identityType": "emailAddress",
                "hashed": true,
                "salt": salt,
            }]);
        }
    }
    let mut issuer = json!({ "id": didkey::did_key(&spec.issuer), "type": ["Profile"] });
    if let Some(name) = &spec.issuer_name {
        issuer["name"] = name.clone().into();
    }
    let mut credential = json!({
        "@context": [CREDENTIALS_V2, OPEN_BADGES_3_0_3],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer,
        "validFrom": spec.valid_from,
        "credentialSubject": subject,
    });
    if let Some(name) = spec.achievement.get("name") {
        credential["name"] = name.clone();
    }
    if let Some(until) = &spec.valid_until {
        credential["validUntil"] = until.clone().into();
    }
    if !evidence.is_empty() {
        credential["evidence"] = Value::Array(evidence.to_vec());
    }
    credential
}

/// Signs `credential` (built for `key`'s public key as issuer) with an `eddsa-rdfc-2022` proof
/// made at `created`.
pub fn sign(credential: &Value, key: &SecretKey, created: &str) -> Result<Value, Ob3Error> {
    let options = ProofOptions {
        created: created.to_owned(),
        verification_method: didkey::verification_method(&key.public_key()),
    };
    proof::sign(credential, &options, key)
}

/// The credential's issuer id: `issuer` as a string, or `issuer.id`.
pub fn issuer_id(credential: &Value) -> Option<&str> {
    match credential.get("issuer")? {
        Value::String(id) => Some(id),
        Value::Object(profile) => profile.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// Verifies the proof and that its key is the credential's issuer (`issuer` is the DID of
/// the verification method). Returns the proven key.
pub fn verify_issuer_proof(credential: &Value) -> Result<proof::VerifiedProof, Ob3Error> {
    let verified = proof::verify(credential)?;
    let issuer =
        issuer_id(credential).ok_or_else(|| Ob3Error::Invalid("the credential has no issuer id".into()))?;
    if issuer != verified.controller {
        return Err(Ob3Error::Invalid(format!(
            "the proof was made by {}, but the credential's issuer is {issuer}",
            verified.controller
        )));
    }
    Ok(verified)
}

/// The validity window of a credential in Unix seconds: `validFrom`/`validUntil` (VC 2.0), or
/// `issuanceDate`/`expirationDate` (VC 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidityWindow {
    pub from_unix_s: Option<i64>,
    pub until_unix_s: Option<i64>,
}

/// Reads the validity window; a date that is not RFC 3339 is an error naming it.
pub fn validity_window(credential: &Value) -> Result<ValidityWindow, Ob3Error> {
    let date = |names: [&str; 2]| -> Result<Option<i64>, Ob3Error> {
        for name in names {
            if let Some(value) = credential.get(name) {
                let text =
                    value.as_str().ok_or_else(|| Ob3Error::Invalid(format!("`{name}` is not a string")))?;
                return parse_rfc3339(text).map(Some).ok_or_else(|| {
                    Ob3Error::Invalid(format!("`{name}` ({text}) is not an RFC 3339 date-time"))
                });
            }
        }
        Ok(None)
    };
    Ok(ValidityWindow {
        from_unix_s: date(["validFrom", "issuanceDate"])?,
        until_unix_s: date(["validUntil", "expirationDate"])?,
    })
}

/// Checks that `now_unix_s` lies in the credential's validity window; says which bound failed.
pub fn check_validity(credential: &Value, now_unix_s: i64) -> Result<String, Ob3Error> {
    let window = validity_window(credential)?;
    let now = format_rfc3339(now_unix_s);
    if let Some(from) = window.from_unix_s
        && now_unix_s < from
    {
        return Err(Ob3Error::Invalid(format!(
            "not valid yet: valid from {}, now {now}",
            format_rfc3339(from)
        )));
    }
    if let Some(until) = window.until_unix_s
        && now_unix_s > until
    {
        return Err(Ob3Error::Invalid(format!("expired: valid until {}, now {now}", format_rfc3339(until))));
    }
    let from = window.from_unix_s.map_or_else(|| "(no start)".to_owned(), format_rfc3339);
    let until = window.until_unix_s.map_or_else(|| "no end".to_owned(), format_rfc3339);
    Ok(format!("valid from {from} until {until}; checked at {now}"))
}

/// Unix seconds of an RFC 3339 date-time (`2025-05-20T08:00:00Z`, fractions and offsets
/// allowed); `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_rfc3339_ms(text).map(|ms| ms.div_euclid(1_000))
}

/// Unix milliseconds of an RFC 3339 date-time (the fraction cut to milliseconds; a leap
/// second counts as :59); `None` when it is not one. The one date parser of the client
/// (transaction files use it too).
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        millis = format!("{:0<3}", &fraction[..digits.min(3)]).parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_s = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let field = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from((a - b'0') * 10 + (b - b'0')))
            };
            let (hours, minutes) = (field(*h1, *h2)?, field(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_s;
    seconds.checked_mul(1_000)?.checked_add(millis)
}

/// `2026-12-04T18:00:00Z` for Unix seconds.
pub fn format_rfc3339(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let seconds = unix_s.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The achievements of a provider's file: a JSON array of OB 3.0 `Achievement` objects, or a
/// single one.
pub fn parse_achievements(bytes: &[u8]) -> Result<Vec<Value>, Ob3Error> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|error| Ob3Error::Invalid(format!("not JSON: {error}")))?;
    match value {
        Value::Array(items) => Ok(items),
        object @ Value::Object(_) => Ok(vec![object]),
        _ => Err(Ob3Error::Invalid("an achievements file holds an Achievement or an array of them".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_refuses_non_dates() {
        for (text, unix) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2025-05-20T08:00:00Z", 1_747_728_000),
            ("2024-02-29T23:59:59Z", 1_709_251_199),
            ("2000-03-01T00:00:00Z", 951_868_800),
        ] {
            assert_eq!(parse_rfc3339(text), Some(unix), "{text}");
            assert_eq!(format_rfc3339(unix), text);
        }
        assert_eq!(parse_rfc3339("2025-05-20T10:00:00.123+02:00"), Some(1_747_728_000));
        for bad in ["2025-02-29T00:00:00Z", "2025-05-20", "2025-05-20T08:00:00", "2025-13-01T00:00:00Z", "x"]
        {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn validity_names_the_failing_bound() {
        let credential = json!({"validFrom": "2025-01-01T00:00:00Z", "validUntil": "2026-01-01T00:00:00Z"});
        let at = |text| parse_rfc3339(text).expect("date");
        assert!(check_validity(&credential, at("2025-06-01T00:00:00Z")).is_ok());
        let early = check_validity(&credential, at("2024-12-31T23:59:59Z")).expect_err("early");
        assert!(early.to_string().contains("not valid yet"), "{early}");
        let late = check_validity(&credential, at("2026-01-01T00:00:01Z")).expect_err("late");
        assert!(late.to_string().contains("expired"), "{late}");
    }

    #[test]
    fn recipients_are_addresses_or_emails() {
        let key = SecretKey::from_seed(&[3; 32]).public_key();
        assert_eq!(Recipient::parse(&key.to_address()), Ok(Recipient::Account(key)));
        assert_eq!(Recipient::parse(" Dev@Example.COM "), Ok(Recipient::Email("dev@example.com".into())));
        assert!(Recipient::parse("tally1notanaddress").is_err());
        assert!(Recipient::parse("someone").is_err());
    }
}
