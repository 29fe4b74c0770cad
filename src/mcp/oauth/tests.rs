//! Tokens minted here with ring (HS256, a fresh P-256 pair, the committed
//! test RSA key) and checked against every rule `validate` enforces.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::{hmac, signature};

use super::*;

const RESOURCE: &str = "https://gw.example.com/mcp";
const ISSUER: &str = "https://auth.example.com";
const NOW: u64 = 1_800_000_000;
const SECRET: &str = "test-only-hs256-secret-0123456789abcdefghij";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/oauth/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn config() -> McpOAuthConfig {
    McpOAuthConfig {
        resource: RESOURCE.into(),
        authorization_servers: vec![ISSUER.into(), "https://other-as.example.com".into()],
        jwks_file: None,
        hs256_secret: Some(format!("file:{}", fixture("hs256_secret.txt"))),
        scopes_supported: vec!["mcp:tools".into(), "mcp:read".into()],
        required_scope: Some("mcp:tools".into()),
        team: None,
        tool_policy: None,
        leeway_secs: 30,
    }
}

fn hs_gateway() -> OAuth {
    OAuth::from_config(&config()).expect("hs256 config")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims that pass every check at `NOW`.
fn good_claims() -> String {
    format!(
        r#"{{"iss":"{ISSUER}","sub":"user-1","client_id":"cli","aud":"{RESOURCE}",
            "exp":{},"nbf":{},"iat":{},"scope":"mcp:tools mcp:read"}}"#,
        NOW + 600,
        NOW - 10,
        NOW - 10
    )
}

fn unsigned(header: &str, claims: &str) -> String {
    format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()))
}

fn hs256(header: &str, claims: &str, secret: &[u8]) -> String {
    let input = unsigned(header, claims);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn mint_hs(claims: &str) -> String {
    hs256(r#"{"alg":"HS256","typ":"JWT"}"#, claims, SECRET.as_bytes())
}

fn rsa_key() -> signature::RsaKeyPair {
    let der = std::fs::read(fixture("rsa_test_key.pk8.der")).expect("rsa fixture");
    signature::RsaKeyPair::from_pkcs8(&der).expect("rsa pkcs8")
}

fn rs256(header: &str, claims: &str) -> String {
    let key = rsa_key();
    let input = unsigned(header, claims);
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("rsa sign");
    format!("{input}.{}", b64(&sig))
}

fn rs_gateway() -> OAuth {
    let c = McpOAuthConfig {
        jwks_file: Some(fixture("rsa_test_jwks.json")),
        hs256_secret: None,
        ..config()
    };
    OAuth::from_config(&c).expect("jwks config")
}

/// A fresh P-256 pair and its public half as a JWK.
fn ec_key(kid: &str) -> (signature::EcdsaKeyPair, String) {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("ec generate");
    let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ec pkcs8");
    let point = signature::KeyPair::public_key(&pair).as_ref().to_vec();
    let jwk = format!(
        r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","alg":"ES256","use":"sig","x":"{}","y":"{}"}}"#,
        b64(&point[1..33]),
        b64(&point[33..65])
    );
    (pair, jwk)
}

fn es256(pair: &signature::EcdsaKeyPair, header: &str, claims: &str) -> String {
    let input = unsigned(header, claims);
    let sig = pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("ec sign");
    format!("{input}.{}", b64(sig.as_ref()))
}

/// A gateway over a JWKS holding the given JWKs plus the test RSA key.
fn jwks_gateway(jwks: &[&str]) -> OAuth {
    let rsa = std::fs::read_to_string(fixture("rsa_test_jwks.json")).expect("jwks fixture");
    let rsa_jwk = &rsa[rsa.find("[").expect("keys") + 1..rsa.rfind("]").expect("keys")];
    let mut all: Vec<&str> = jwks.to_vec();
    all.push(rsa_jwk);
    let mut json = format!(r#"{{"keys":[{}]}}"#, all.join(",")).into_bytes();
    OAuth::with_keys(&config(), KeySet::jwks(&mut json).expect("jwks")).expect("gateway")
}

#[test]
fn hs256_token_yields_its_claims() {
    let claims = hs_gateway()
        .validate(&mint_hs(&good_claims()), NOW)
        .unwrap();
    assert_eq!(
        claims,
        Claims {
            subject: "user-1".into(),
            client_id: Some("cli".into()),
            scopes: vec!["mcp:tools".into(), "mcp:read".into()],
            expires_s: NOW + 600,
            issuer: ISSUER.into(),
        }
    );
}

#[test]
fn every_claim_rule_has_its_error() {
    let exp = NOW + 600;
    let cases: &[(&str, String, Option<TokenError>)] = &[
        ("good", good_claims(), None),
        (
            "expired past leeway",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{},"scope":"mcp:tools"}}"#,
                NOW - 30
            ),
            Some(TokenError::Expired),
        ),
        (
            "expired within leeway",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{},"scope":"mcp:tools"}}"#,
                NOW - 29
            ),
            None,
        ),
        (
            "nbf past leeway",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"nbf":{},"scope":"mcp:tools"}}"#,
                NOW + 31
            ),
            Some(TokenError::NotYetValid),
        ),
        (
            "nbf within leeway",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"nbf":{},"scope":"mcp:tools"}}"#,
                NOW + 30
            ),
            None,
        ),
        (
            "iat in the future",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"iat":{},"scope":"mcp:tools"}}"#,
                NOW + 300
            ),
            Some(TokenError::NotYetValid),
        ),
        (
            "untrusted issuer",
            format!(
                r#"{{"iss":"https://evil.example.com","sub":"s","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:tools"}}"#
            ),
            Some(TokenError::WrongIssuer),
        ),
        (
            "no issuer",
            format!(r#"{{"sub":"s","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:tools"}}"#),
            Some(TokenError::WrongIssuer),
        ),
        (
            "another resource",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"https://api.example.com","exp":{exp},"scope":"mcp:tools"}}"#
            ),
            Some(TokenError::WrongAudience),
        ),
        (
            "resource with a trailing slash is another resource",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}/","exp":{exp},"scope":"mcp:tools"}}"#
            ),
            Some(TokenError::WrongAudience),
        ),
        (
            "no audience",
            format!(r#"{{"iss":"{ISSUER}","sub":"s","exp":{exp},"scope":"mcp:tools"}}"#),
            Some(TokenError::WrongAudience),
        ),
        (
            "audience array naming us",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":["x","{RESOURCE}"],"exp":{exp},"scope":"mcp:tools"}}"#
            ),
            None,
        ),
        (
            "no exp",
            format!(r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","scope":"mcp:tools"}}"#),
            Some(TokenError::Malformed),
        ),
        (
            "missing scope",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:read"}}"#
            ),
            Some(TokenError::InsufficientScope),
        ),
        (
            "scope as a prefix is not the scope",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:toolsx"}}"#
            ),
            Some(TokenError::InsufficientScope),
        ),
        (
            "scp array",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","exp":{exp},"scp":["mcp:tools"]}}"#
            ),
            None,
        ),
        (
            "client credentials without sub",
            format!(
                r#"{{"iss":"{ISSUER}","client_id":"c","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:tools"}}"#
            ),
            None,
        ),
        (
            "neither sub nor client",
            format!(r#"{{"iss":"{ISSUER}","aud":"{RESOURCE}","exp":{exp},"scope":"mcp:tools"}}"#),
            Some(TokenError::Malformed),
        ),
        (
            "repeated claim",
            format!(
                r#"{{"iss":"{ISSUER}","sub":"s","aud":"{RESOURCE}","aud":"x","exp":{exp},"scope":"mcp:tools"}}"#
            ),
            Some(TokenError::Malformed),
        ),
    ];
    let gw = hs_gateway();
    for (name, claims, want) in cases {
        let got = gw.validate(&mint_hs(claims), NOW).err();
        assert_eq!(got, *want, "{name}");
    }
}

#[test]
fn malformed_tokens() {
    let good = mint_hs(&good_claims());
    let (head, _) = good.rsplit_once('.').unwrap();
    let oversize = mint_hs(&format!(
        r#"{{"iss":"{ISSUER}","sub":"{}","aud":"{RESOURCE}","exp":{}}}"#,
        "x".repeat(9000),
        NOW + 60
    ));
    let crit = hs256(
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        &good_claims(),
        SECRET.as_bytes(),
    );
    let cases = [
        ("two segments", head.to_owned()),
        ("five segments (JWE)", format!("{good}.a.b")),
        ("padded signature", format!("{good}=")),
        ("oversize", oversize),
        ("critical extension", crit),
        (
            "header not json",
            format!("bm90.{}", &good[good.find('.').unwrap() + 1..]),
        ),
        ("empty", String::new()),
    ];
    let gw = hs_gateway();
    for (name, token) in cases {
        assert_eq!(
            gw.validate(&token, NOW).err(),
            Some(TokenError::Malformed),
            "{name}"
        );
    }
}

#[test]
fn tampering_breaks_the_signature() {
    let gw = hs_gateway();
    let token = mint_hs(&good_claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = b64(good_claims().replace("user-1", "admin").as_bytes());
    parts[1] = &forged;
    assert_eq!(
        gw.validate(&parts.join("."), NOW).err(),
        Some(TokenError::BadSignature)
    );

    let wrong_secret = hs256(
        r#"{"alg":"HS256"}"#,
        &good_claims(),
        b"another-secret-of-enough-length-0123456789",
    );
    assert_eq!(
        gw.validate(&wrong_secret, NOW).err(),
        Some(TokenError::BadSignature)
    );

    let truncated = &token[..token.len() - 4];
    assert_eq!(
        gw.validate(truncated, NOW).err(),
        Some(TokenError::BadSignature)
    );
}

#[test]
fn unsupported_and_confused_algorithms_are_refused() {
    let claims = good_claims();
    let hs = hs_gateway();
    let rs = rs_gateway();
    // `none`, and algorithms never accepted.
    let none = format!("{}.", unsigned(r#"{"alg":"none"}"#, &claims));
    assert_eq!(
        hs.validate(&none, NOW).err(),
        Some(TokenError::UnsupportedAlg)
    );
    let hs512 = hs256(r#"{"alg":"HS512"}"#, &claims, SECRET.as_bytes());
    assert_eq!(
        hs.validate(&hs512, NOW).err(),
        Some(TokenError::UnsupportedAlg)
    );
    // HS256 "signed" with the RSA public key's bytes, against the JWKS: the
    // RSA key is never used as an HMAC secret.
    let jwks = std::fs::read(fixture("rsa_test_jwks.json")).unwrap();
    let confused = hs256(r#"{"alg":"HS256","kid":"rsa-test-1"}"#, &claims, &jwks);
    assert_eq!(
        rs.validate(&confused, NOW).err(),
        Some(TokenError::UnsupportedAlg)
    );
    // An RS256 token against an HS256-only gateway.
    let rs_token = rs256(r#"{"alg":"RS256","kid":"rsa-test-1"}"#, &claims);
    assert_eq!(
        hs.validate(&rs_token, NOW).err(),
        Some(TokenError::UnsupportedAlg)
    );
    // An RSA signature relabelled ES256, with an EC key present.
    let (_, jwk) = ec_key("ec-1");
    let both = jwks_gateway(&[&jwk]);
    let relabelled = rs_token.replacen(
        &b64(br#"{"alg":"RS256","kid":"rsa-test-1"}"#),
        &b64(br#"{"alg":"ES256"}"#),
        1,
    );
    assert_eq!(
        both.validate(&relabelled, NOW).err(),
        Some(TokenError::BadSignature)
    );
}

#[test]
fn rs256_from_the_committed_jwks() {
    let gw = rs_gateway();
    let claims = good_claims();
    let with_kid = rs256(r#"{"alg":"RS256","kid":"rsa-test-1"}"#, &claims);
    assert_eq!(gw.validate(&with_kid, NOW).unwrap().subject, "user-1");
    // A lone key serves a token without `kid`, but not one naming another.
    let without_kid = rs256(r#"{"alg":"RS256"}"#, &claims);
    assert!(gw.validate(&without_kid, NOW).is_ok());
    let other_kid = rs256(r#"{"alg":"RS256","kid":"rotated-away"}"#, &claims);
    assert_eq!(
        gw.validate(&other_kid, NOW).err(),
        Some(TokenError::BadSignature)
    );
    let tampered = with_kid.replacen(
        &b64(claims.as_bytes()),
        &b64(claims.replace("mcp:read", "mcp:admin").as_bytes()),
        1,
    );
    assert_eq!(
        gw.validate(&tampered, NOW).err(),
        Some(TokenError::BadSignature)
    );
}

#[test]
fn es256_keys_are_chosen_by_kid() {
    let (pair1, jwk1) = ec_key("ec-1");
    let (pair2, jwk2) = ec_key("ec-2");
    let gw = jwks_gateway(&[&jwk1, &jwk2]);
    let claims = good_claims();
    for (pair, kid) in [(&pair1, "ec-1"), (&pair2, "ec-2")] {
        let token = es256(
            pair,
            &format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
            &claims,
        );
        assert!(gw.validate(&token, NOW).is_ok(), "{kid}");
    }
    let swapped = es256(&pair1, r#"{"alg":"ES256","kid":"ec-2"}"#, &claims);
    assert_eq!(
        gw.validate(&swapped, NOW).err(),
        Some(TokenError::BadSignature)
    );
    // Two EC keys and no `kid`: ambiguous, refused rather than tried in turn.
    let no_kid = es256(&pair1, r#"{"alg":"ES256"}"#, &claims);
    assert_eq!(
        gw.validate(&no_kid, NOW).err(),
        Some(TokenError::BadSignature)
    );
    let unknown = es256(&pair1, r#"{"alg":"ES256","kid":"ec-9"}"#, &claims);
    assert_eq!(
        gw.validate(&unknown, NOW).err(),
        Some(TokenError::BadSignature)
    );
}

#[test]
fn jwks_loading() {
    let (_, ec) = ec_key("ec-1");
    let ok: &[(&str, usize)] = &[
        (r#"{"keys":[EC]}"#, 1),
        (r#"{"keys":[EC,{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#, 1),
        (
            r#"{"keys":[EC,{"kty":"RSA","use":"enc","n":"AA","e":"AQAB"}]}"#,
            1,
        ),
        (
            r#"{"keys":[EC,{"kty":"RSA","alg":"PS256","n":"AA","e":"AQAB"}]}"#,
            1,
        ),
    ];
    for (json, n) in ok {
        let mut bytes = json.replace("EC", &ec).into_bytes();
        assert_eq!(
            KeySet::jwks(&mut bytes).map(|k| k.count()).ok(),
            Some(*n),
            "{json}"
        );
    }
    let bad = [
        "[]",
        r#"{"keys":[]}"#,
        r#"{"keys":[EC,EC]}"#,
        r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
        r#"{"keys":[{"kty":"RSA","e":"AQAB"}]}"#,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#,
    ];
    for json in bad {
        let mut bytes = json.replace("EC", &ec).into_bytes();
        assert!(KeySet::jwks(&mut bytes).is_err(), "{json}");
    }
}

#[test]
fn config_errors_never_quote_secrets() {
    assert!(KeySet::hs256(b"short").is_err());
    let missing = McpOAuthConfig {
        hs256_secret: Some("env:TOLLGATE_TEST_OAUTH_UNSET".into()),
        ..config()
    };
    let err = OAuth::from_config(&missing).unwrap_err();
    assert!(err.contains("TOLLGATE_TEST_OAUTH_UNSET"), "{err}");
    let no_file = McpOAuthConfig {
        jwks_file: Some("/nonexistent/jwks.json".into()),
        hs256_secret: None,
        ..config()
    };
    assert!(
        OAuth::from_config(&no_file)
            .unwrap_err()
            .contains("/nonexistent/jwks.json")
    );
    let bad_scope = McpOAuthConfig {
        required_scope: Some("mcp:\"tools".into()),
        ..config()
    };
    let err = OAuth::from_config(&bad_scope).unwrap_err();
    assert!(!err.contains(SECRET), "{err}");
    let bad_resource = McpOAuthConfig {
        resource: "https://gw.example.com/mcp\r\nX: y".into(),
        ..config()
    };
    assert!(OAuth::from_config(&bad_resource).is_err());
    assert!(!format!("{:?}", hs_gateway()).contains(SECRET));
}

#[test]
fn metadata_document_and_path() {
    let gw = hs_gateway();
    assert_eq!(
        gw.metadata_path(),
        "/.well-known/oauth-protected-resource/mcp"
    );
    assert_eq!(
        String::from_utf8(gw.metadata_json()).unwrap(),
        concat!(
            r#"{"resource":"https://gw.example.com/mcp","#,
            r#""authorization_servers":["https://auth.example.com","https://other-as.example.com"],"#,
            r#""scopes_supported":["mcp:tools","mcp:read"],"#,
            r#""bearer_methods_supported":["header"]}"#
        )
    );
    let bare = McpOAuthConfig {
        scopes_supported: vec![],
        required_scope: None,
        ..config()
    };
    let bare = OAuth::from_config(&bare).unwrap();
    let json = String::from_utf8(bare.metadata_json()).unwrap();
    assert!(!json.contains("scopes_supported"), "{json}");
    assert_eq!(
        bare.challenge(None),
        r#"Bearer resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp""#
    );
}

#[test]
fn challenges_name_the_metadata_error_and_scope() {
    let gw = hs_gateway();
    let meta =
        r#"resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp""#;
    assert_eq!(
        gw.challenge(None),
        format!(r#"Bearer {meta}, scope="mcp:tools""#)
    );
    assert_eq!(
        gw.challenge(Some(&TokenError::Expired)),
        format!(
            r#"Bearer {meta}, error="invalid_token", scope="mcp:tools", error_description="the token has expired""#
        )
    );
    assert_eq!(
        gw.challenge(Some(&TokenError::InsufficientScope)),
        format!(
            r#"Bearer {meta}, error="insufficient_scope", scope="mcp:tools", error_description="the token lacks a required scope""#
        )
    );
}

#[test]
fn status_and_code_per_error() {
    use TokenError::*;
    for e in [
        Malformed,
        BadSignature,
        Expired,
        NotYetValid,
        WrongIssuer,
        WrongAudience,
        UnsupportedAlg,
    ] {
        assert_eq!((e.status(), e.code()), (401, "invalid_token"), "{e:?}");
    }
    assert_eq!(
        (InsufficientScope.status(), InsufficientScope.code()),
        (403, "insufficient_scope")
    );
}

#[test]
fn jwts_and_gateway_keys_are_told_apart() {
    let (pair, _) = ec_key("ec-1");
    let jwts = [
        mint_hs(&good_claims()),
        rs256(r#"{"alg":"RS256"}"#, "{}"),
        es256(&pair, r#"{"alg":"ES256"}"#, "{}"),
        format!("{}.", unsigned(r#"{"alg":"none"}"#, "{}")),
    ];
    for jwt in &jwts {
        assert!(looks_like_jwt(jwt), "{jwt}");
    }
    let not = [
        "key_0123456789abcdef0123456789abcdef".to_owned(),
        "tg-AbCdEfGh".to_owned(),
        "a.b.c".to_owned(),
        format!("{}.e30.", b64(br#"{"typ":"JWT"}"#)),
        format!("{}.e30.", b64(b"[1]")),
        String::new(),
    ];
    for key in &not {
        assert!(!looks_like_jwt(key), "{key}");
    }
}

/// Minted by `tests/sdk/mcp/jwt_hs256.py` (`mint(SECRET, {...})`), so the
/// SDK tests' helper and this validator agree byte for byte.
#[test]
fn a_token_minted_by_the_python_helper_is_accepted() {
    let token = concat!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
        "eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJzdWIiOiJ1c2VyLTEiLCJhdWQiOiJodHRwczovL2d3",
        "LmV4YW1wbGUuY29tL21jcCIsImV4cCI6MTgwMDAwMDYwMCwic2NvcGUiOiJtY3A6dG9vbHMifQ.",
        "ZMF87Rpxs0cBar1Og1EuWD93Ci5dEFu_LZVEzm-db4Y"
    );
    assert!(looks_like_jwt(token));
    let claims = hs_gateway().validate(token, NOW).unwrap();
    assert_eq!(
        (claims.subject.as_str(), claims.expires_s),
        ("user-1", NOW + 600)
    );
}
