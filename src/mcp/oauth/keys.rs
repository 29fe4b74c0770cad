//! The verification keys: a JWKS (RSA and P-256 public keys) or one HS256
//! secret, and the choice of key for a token. A key only ever verifies the
//! algorithm of its own type, so a token cannot pick HS256 and have an RSA
//! public key used as its HMAC secret (the classic algorithm confusion).

use ring::{hmac, signature};
use simd_json::tape::Value;

use super::TokenError;
use super::token::Alg;
use crate::canonical::tape::prelude::*;

/// A JWKS file larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// RFC 7518 §3.2: an HS256 key at least as long as the hash.
const MIN_HMAC_BYTES: usize = 32;

/// ring verifies RSA moduli of 2048 to 8192 bits; checked at load so a
/// short key is a config error, not every token failing.
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

enum Material {
    /// Big-endian modulus (no leading zeros) and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point: `04 || x || y`.
    Ec(Vec<u8>),
    Hmac(hmac::Key),
}

impl Material {
    fn alg(&self) -> Alg {
        match self {
            Material::Rsa { .. } => Alg::Rs256,
            Material::Ec(_) => Alg::Es256,
            Material::Hmac(_) => Alg::Hs256,
        }
    }
}

struct Key {
    kid: Option<String>,
    material: Material,
}

/// The keys tokens are verified with.
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// One shared HS256 secret (its bytes as written, not base64-decoded).
    pub fn hs256(secret: &[u8]) -> Result<KeySet, String> {
        if secret.len() < MIN_HMAC_BYTES {
            return Err(format!(
                "the HS256 secret must be at least {MIN_HMAC_BYTES} bytes"
            ));
        }
        let key = Key {
            kid: None,
            material: Material::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        };
        Ok(KeySet { keys: vec![key] })
    }

    /// Reads a JWKS file (`file:` prefix optional).
    pub fn jwks_file(path: &str) -> Result<KeySet, String> {
        let path = path.strip_prefix("file:").unwrap_or(path);
        let mut bytes = std::fs::read(path)
            .map_err(|e| format!("the JWKS file `{path}` cannot be read: {e}"))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS file `{path}` is over 1 MiB"));
        }
        KeySet::jwks(&mut bytes).map_err(|e| format!("the JWKS file `{path}`: {e}"))
    }

    /// Parses a JWKS. Keys this gateway cannot use (other key types or
    /// algorithms, encryption keys) are skipped; a usable key that is
    /// broken, a repeated `kid`, or no usable key at all is an error.
    pub fn jwks(json: &mut [u8]) -> Result<KeySet, String> {
        let tape = simd_json::to_tape(json).map_err(|_| "is not JSON".to_owned())?;
        let list = tape
            .as_value()
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(|k| k.as_array())
            .ok_or("has no `keys` array")?;
        let mut keys: Vec<Key> = Vec::new();
        for (i, jwk) in list.iter().enumerate() {
            let Some(key) = read_jwk(jwk).map_err(|e| format!("keys[{i}]: {e}"))? else {
                continue;
            };
            if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!("keys[{i}]: another key has this `kid`"));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("holds no RS256 or ES256 signing key".into());
        }
        Ok(KeySet { keys })
    }

    /// How many keys there are (for `Debug`, never the keys themselves).
    pub fn count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies `signature` over `input` with the key `alg` and `kid` pick.
    pub fn verify(
        &self,
        alg: Alg,
        kid: Option<&str>,
        input: &[u8],
        sig: &[u8],
    ) -> Result<(), TokenError> {
        let key = self.select(alg, kid)?;
        let ok = match &key.material {
            Material::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
                .is_ok(),
            Material::Ec(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, sig)
                    .is_ok()
            }
            // Constant time: the comparison must not tell an attacker how
            // many leading bytes of a forged tag were right.
            Material::Hmac(k) => hmac::verify(k, input, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Only keys of `alg`'s type are candidates (none: the algorithm is not
    /// one this gateway was given keys for). A `kid` picks among them; a
    /// token without one, or a lone key without one, needs a lone candidate.
    fn select(&self, alg: Alg, kid: Option<&str>) -> Result<&Key, TokenError> {
        let mut candidates = self.keys.iter().filter(|k| k.material.alg() == alg);
        let first = candidates.next().ok_or(TokenError::UnsupportedAlg)?;
        let lone = candidates.next().is_none();
        let by_kid = kid.and_then(|kid| {
            self.keys
                .iter()
                .find(|k| k.material.alg() == alg && k.kid.as_deref() == Some(kid))
        });
        match by_kid {
            Some(key) => Ok(key),
            None if lone && (kid.is_none() || first.kid.is_none()) => Ok(first),
            None => Err(TokenError::BadSignature),
        }
    }
}

/// One JWK: `Ok(None)` for a key this gateway does not use.
fn read_jwk(jwk: Value<'_, '_>) -> Result<Option<Key>, String> {
    let obj = jwk.as_object().ok_or("is not an object")?;
    let text = |name: &str| obj.get(name).and_then(|v| v.into_string());
    if text("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let material = match (text("kty"), text("alg")) {
        (Some("RSA"), None | Some("RS256")) => rsa(b64(text("n"), "n")?, b64(text("e"), "e")?)?,
        (Some("EC"), None | Some("ES256")) if text("crv") == Some("P-256") => {
            ec(b64(text("x"), "x")?, b64(text("y"), "y")?)?
        }
        _ => return Ok(None),
    };
    let kid = match obj.get("kid") {
        None => None,
        Some(v) => Some(v.as_str().ok_or("`kid` is not a string")?.to_owned()),
    };
    Ok(Some(Key { kid, material }))
}

fn b64(value: Option<&str>, name: &str) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("`{name}` is missing"))?;
    super::token::decode(value).ok_or_else(|| format!("`{name}` is not base64url"))
}

fn rsa(mut n: Vec<u8>, mut e: Vec<u8>) -> Result<Material, String> {
    strip_leading_zeros(&mut n);
    strip_leading_zeros(&mut e);
    if !RSA_MODULUS_BYTES.contains(&n.len()) {
        return Err("the RSA modulus must be 2048 to 8192 bits".into());
    }
    if e.is_empty() || e.len() > 4 {
        return Err("the RSA exponent is out of range".into());
    }
    Ok(Material::Rsa { n, e })
}

fn ec(x: Vec<u8>, y: Vec<u8>) -> Result<Material, String> {
    if x.len() != 32 || y.len() != 32 {
        return Err("a P-256 coordinate must be 32 bytes".into());
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(Material::Ec(point))
}

fn strip_leading_zeros(bytes: &mut Vec<u8>) {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.drain(..zeros);
}
