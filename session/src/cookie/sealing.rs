//! Encrypted cookie values (feature `encrypted`): XChaCha20-Poly1305 under keys derived from
//! the cookie's secrets, with rotation: the first secret's key seals, every secret's key
//! opens, in order.
//!
//! A sealed value is `base64url_nopad(nonce ‖ ciphertext ‖ tag)`: a random 24-byte nonce from
//! the OS CSPRNG, the payload encrypted, and the 16-byte Poly1305 tag. The associated data is
//! [`AAD_PREFIX`] followed by the cookie's name, so a value sealed for one cookie name does not
//! open under another. Each secret's key is `HKDF-SHA256(ikm = secret, salt = none, info =
//! `[`KEY_INFO`]`)`, derived once when the cookie is built; the HMAC keys of the signed format
//! use the secrets directly, and HKDF's distinct info string keeps the two uses apart.
//!
//! Why XChaCha20-Poly1305 rather than AES-256-GCM: every response seals a new value under the
//! same long-lived key, with a random nonce. AES-GCM's 96-bit nonce makes a repeat likely
//! enough past about 2³² values per key that NIST caps random nonces there, a count a busy
//! site reaches; the extended 192-bit nonce takes random nonces without a practical bound. It
//! is also constant-time in software, with no need for AES instructions.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::signing::SecretIndex;

/// The HKDF info string of a sealing key.
const KEY_INFO: &[u8] = b"session cookie encryption key v1 (xchacha20poly1305)";

/// What the associated data starts with; the cookie's name follows.
const AAD_PREFIX: &[u8] = b"session cookie v1\0";

/// Bytes in a nonce.
const NONCE_LEN: usize = 24;

/// Bytes in a tag.
const TAG_LEN: usize = 16;

/// The ciphers of one cookie's secrets, keyed once at construction; index 0 seals.
///
/// `Debug` prints how many keys there are, never their bytes.
#[derive(Clone)]
pub(crate) struct Sealer {
    ciphers: Vec<XChaCha20Poly1305>,
}

impl Sealer {
    /// Derives one key per secret (the secrets were checked by the signing keys already).
    pub(crate) fn new(secrets: &[Vec<u8>]) -> Self {
        let ciphers = secrets
            .iter()
            .map(|secret| {
                let mut key = [0u8; 32];
                Hkdf::<Sha256>::new(None, secret)
                    .expand(KEY_INFO, &mut key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                XChaCha20Poly1305::new(&key.into())
            })
            .collect();
        Self { ciphers }
    }

    /// Appends `payload` sealed for the cookie `name` to `out`, in the cookie-safe form.
    pub(crate) fn seal_into(&self, name: &str, payload: &[u8], out: &mut String) {
        let mut sealed = vec![0u8; NONCE_LEN + payload.len() + TAG_LEN];
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
        getrandom::fill(nonce).expect("the operating system CSPRNG is available");
        let nonce = XNonce::try_from(&*nonce).expect("NONCE_LEN bytes");
        let (body, tag_out) = rest.split_at_mut(payload.len());
        body.copy_from_slice(payload);
        let tag = self.ciphers[0]
            .encrypt_inout_detached(&nonce, &aad(name), InOutBuf::from(body))
            .expect("a cookie payload is far below the cipher's length limit");
        tag_out.copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode_string(&sealed, out);
    }

    /// Opens a value sealed for the cookie `name` by any of the keys, in order: the payload
    /// and the index of the key that opened it. `None` for anything else (not base64url, too
    /// short, tampered, sealed for another name or under an unknown key).
    pub(crate) fn open(&self, name: &str, value: &str) -> Option<(Vec<u8>, SecretIndex)> {
        let mut sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let aad = aad(name);
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
        let nonce = XNonce::try_from(&*nonce).ok()?;
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let tag = (&*tag).try_into().ok()?;
        let opened = self.ciphers.iter().position(|cipher| {
            // The tag is checked (in constant time) before anything is decrypted, so a key
            // that fails leaves `body` as it was for the next one.
            cipher
                .decrypt_inout_detached(&nonce, &aad, InOutBuf::from(&mut *body), tag)
                .is_ok()
        })?;
        let payload = body.to_vec();
        Some((payload, SecretIndex(opened)))
    }
}

fn aad(name: &str) -> Vec<u8> {
    [AAD_PREFIX, name.as_bytes()].concat()
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer({} keys, redacted)", self.ciphers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secrets: &[&str]) -> Sealer {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        Sealer::new(&secrets)
    }

    fn seal(sealer: &Sealer, name: &str, payload: &str) -> String {
        let mut out = String::new();
        sealer.seal_into(name, payload.as_bytes(), &mut out);
        out
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_name_and_hides_its_payload() {
        let keys = sealer(&["a secret of at least thirty-two bytes"]);
        let sealed = seal(&keys, "sid", r#"{"user":"ada"}"#);
        assert!(!sealed.contains("ada"));
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let (payload, index) = keys.open("sid", &sealed).unwrap();
        assert_eq!(payload, br#"{"user":"ada"}"#);
        assert_eq!(index, SecretIndex(0));
        assert!(keys.open("other", &sealed).is_none(), "bound to the name");
        assert_ne!(
            sealed,
            seal(&keys, "sid", r#"{"user":"ada"}"#),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens_in_order() {
        let old = sealer(&["old secret"]);
        let both = sealer(&["new secret", "old secret"]);
        let sealed_by_old = seal(&old, "sid", "{}");
        assert_eq!(both.open("sid", &sealed_by_old).unwrap().1, SecretIndex(1));
        let sealed_by_new = seal(&both, "sid", "{}");
        assert_eq!(both.open("sid", &sealed_by_new).unwrap().1, SecretIndex(0));
        assert!(old.open("sid", &sealed_by_new).is_none());
        assert!(sealer(&["unrelated"]).open("sid", &sealed_by_old).is_none());
    }

    #[test]
    fn anything_but_an_intact_value_is_refused() {
        let keys = sealer(&["secret"]);
        let sealed = seal(&keys, "sid", r#"{"n":1}"#);
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for at in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[at] ^= 1;
            assert!(
                keys.open("sid", &URL_SAFE_NO_PAD.encode(&tampered))
                    .is_none(),
                "{at}"
            );
        }
        for len in 0..bytes.len() {
            assert!(
                keys.open("sid", &URL_SAFE_NO_PAD.encode(&bytes[..len]))
                    .is_none()
            );
        }
        for junk in [
            "",
            "!!!!",
            "a.b",
            &format!("{sealed}="),
            &format!(" {sealed}"),
        ] {
            assert!(keys.open("sid", junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        assert_eq!(
            format!("{:?}", sealer(&["x", "y"])),
            "Sealer(2 keys, redacted)"
        );
    }
}
