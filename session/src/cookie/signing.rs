//! HMAC-SHA256 signing in the Remix format, `value + "." + base64_nopad(mac)`, with secret
//! rotation: the first secret signs, every secret verifies, in order, in constant time.
//!
//! The signature text is decoded strictly (standard alphabet, optional padding, zero trailing
//! bits, no whitespace), so a valid cookie has exactly one accepted signature text besides its
//! `=`-padded twin. Remix's `atob` is laxer; the stricter reading refuses only texts no Remix
//! app writes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::ConfigError;

/// The shortest secret accepted without [`allow_short_secrets`](crate::cookie::SessionCookieBuilder::allow_short_secrets), in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Bytes in an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// Characters in the signature [`Keys::sign_tail`] writes: the tag in unpadded base64.
pub(crate) const SIGNATURE_LEN: usize = MAC_LEN.div_ceil(3) * 4 - 1;

/// Standard base64 that accepts padded and unpadded input but rejects non-zero trailing bits.
pub(crate) const STRICT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// The secrets of one cookie, keyed once at construction.
///
/// `Debug` prints how many secrets there are, never their bytes.
#[derive(Clone)]
pub(crate) struct Keys {
    /// HMAC states already keyed with each secret; index 0 signs.
    macs: Vec<HmacSha256>,
    /// HMAC states keyed with a key derived from each secret, for session handles (see
    /// [`handle`](Self::handle)); index 0 names.
    handles: Vec<HmacSha256>,
}

/// What a handle key is derived with: `HMAC(secret, HANDLE_CONTEXT)`, so a handle is never a
/// cookie signature.
const HANDLE_CONTEXT: &[u8] = b"session owner handle v1";

/// Bytes of a handle's tag: 128 bits.
const HANDLE_LEN: usize = 16;

/// Which secret verified a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecretIndex(pub(crate) usize);

impl Keys {
    /// Keys every secret, refusing an empty list, an empty secret, and (unless allowed) a
    /// short one.
    pub(crate) fn new(secrets: &[Vec<u8>], allow_short: bool) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        let mut macs = Vec::with_capacity(secrets.len());
        let mut handles = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            if secret.is_empty() {
                return Err(ConfigError::EmptySecret { index });
            }
            if secret.len() < MIN_SECRET_LEN && !allow_short {
                return Err(ConfigError::ShortSecret {
                    index,
                    len: secret.len(),
                });
            }
            let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
            let derived = mac
                .clone()
                .chain_update(HANDLE_CONTEXT)
                .finalize()
                .into_bytes();
            handles.push(
                HmacSha256::new_from_slice(&derived).expect("HMAC accepts keys of any length"),
            );
            macs.push(mac);
        }
        Ok(Self { macs, handles })
    }

    /// The handle of `id` under the first secret: 128 bits of a keyed hash, in unpadded
    /// base64url.
    pub(crate) fn handle(&self, id: &str) -> String {
        general_purpose::URL_SAFE_NO_PAD.encode(Self::handle_tag(&self.handles[0], id))
    }

    /// Whether `handle` names `id` under any secret, compared in constant time.
    pub(crate) fn handle_matches(&self, id: &str, handle: &str) -> bool {
        let mut tag = [0u8; HANDLE_LEN + 2];
        let Ok(HANDLE_LEN) = general_purpose::URL_SAFE_NO_PAD.decode_slice(handle, &mut tag) else {
            return false;
        };
        self.handles.iter().any(|mac| {
            // `verify_truncated_left` compares the leftmost bytes in constant time.
            mac.clone()
                .chain_update(id.as_bytes())
                .verify_truncated_left(&tag[..HANDLE_LEN])
                .is_ok()
        })
    }

    fn handle_tag(mac: &HmacSha256, id: &str) -> [u8; HANDLE_LEN] {
        let full = mac
            .clone()
            .chain_update(id.as_bytes())
            .finalize()
            .into_bytes();
        let mut tag = [0u8; HANDLE_LEN];
        tag.copy_from_slice(&full[..HANDLE_LEN]);
        tag
    }

    /// Signs the text `out[start..]` in place: appends `"." + signature`.
    pub(crate) fn sign_tail(&self, out: &mut String, start: usize) {
        let mut mac = self.macs[0].clone();
        mac.update(&out.as_bytes()[start..]);
        let tag = mac.finalize().into_bytes();
        out.push('.');
        general_purpose::STANDARD_NO_PAD.encode_string(tag, out);
    }

    /// Checks `signed` against every secret in order. Returns the signed part and the index of
    /// the secret that verified it.
    pub(crate) fn verify<'a>(&self, signed: &'a str) -> Option<(&'a str, SecretIndex)> {
        let (value, signature) = signed.rsplit_once('.')?;
        let mut tag = [0u8; MAC_LEN];
        match STRICT_STANDARD.decode_slice(signature, &mut tag) {
            Ok(MAC_LEN) => {}
            _ => return None,
        }
        self.macs.iter().enumerate().find_map(|(index, mac)| {
            let mut mac = mac.clone();
            mac.update(value.as_bytes());
            // `verify_slice` compares in constant time.
            mac.verify_slice(&tag)
                .ok()
                .map(|()| (value, SecretIndex(index)))
        })
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({} secrets, redacted)", self.macs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&str]) -> Keys {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        Keys::new(&secrets, true).unwrap()
    }

    fn sign(keys: &Keys, value: &str) -> String {
        let mut out = value.to_owned();
        keys.sign_tail(&mut out, 0);
        out
    }

    #[test]
    fn matches_the_remix_signing_primitive() {
        assert_eq!(
            sign(&keys(&["s3cr3t"]), "aGVsbG8="),
            "aGVsbG8=.3UDRBr/J1N00KqKEbbW+O95uJz+Nq2kWC9XanqhM2M4"
        );
    }

    #[test]
    fn rotation_signs_with_the_first_and_verifies_with_all() {
        let old = keys(&["old"]);
        let both = keys(&["new", "old"]);
        let cookie = sign(&old, "dmFsdWU=");
        assert_eq!(both.verify(&cookie), Some(("dmFsdWU=", SecretIndex(1))));
        let resigned = sign(&both, "dmFsdWU=");
        assert_eq!(keys(&["new"]).verify(&resigned).unwrap().1, SecretIndex(0));
        assert!(old.verify(&resigned).is_none());
    }

    #[test]
    fn signature_text_is_read_strictly() {
        let k = keys(&["secret1"]);
        let good = sign(&k, "YQ==");
        assert!(k.verify(&good).is_some());
        assert!(k.verify(&format!("{good}=")).is_some(), "padded twin");
        assert!(k.verify(&format!("{good}==")).is_none());
        let (head, last) = good.split_at(good.len() - 1);
        // Same top four bits, different trailing bits: Remix accepts it, we do not.
        let sextet = base64::alphabet::STANDARD.as_str().find(last).unwrap();
        let twin = base64::alphabet::STANDARD.as_str().as_bytes()[sextet ^ 1] as char;
        assert!(k.verify(&format!("{head}{twin}")).is_none());
        let spaced = format!("{} {}", &good[..good.len() - 10], &good[good.len() - 10..]);
        assert!(k.verify(&spaced).is_none());
    }

    #[test]
    fn refuses_bad_secret_lists() {
        assert_eq!(Keys::new(&[], true).unwrap_err(), ConfigError::NoSecret);
        assert_eq!(
            Keys::new(&[b"ok".to_vec(), Vec::new()], true).unwrap_err(),
            ConfigError::EmptySecret { index: 1 }
        );
        assert_eq!(
            Keys::new(&[b"short".to_vec()], false).unwrap_err(),
            ConfigError::ShortSecret { index: 0, len: 5 }
        );
        assert!(Keys::new(&[vec![7; MIN_SECRET_LEN]], false).is_ok());
    }

    #[test]
    fn tags_are_compared_only_in_constant_time() {
        // Checklist A7's review gate: the only comparison of a MAC in this crate is
        // `verify_slice`; no `==` on tag bytes may creep in.
        let source = include_str!("signing.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        assert_eq!(code.matches("verify_slice(").count(), 1);
        for forbidden in [
            "tag ==",
            "== tag",
            "tag.eq(",
            "finalize() ==",
            "into_bytes() ==",
        ] {
            assert!(!code.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let shown = format!("{:?}", keys(&["hunter2-hunter2"]));
        assert!(!shown.contains("hunter2"));
    }
}
