//! The session cookie: Remix's `cookie.test.ts` (spec §6) where it applies, the secure defaults
//! and attribute checks of checklist J, and the size limits of checklist K.

use std::time::Duration;

use session::cookie::{Incoming, MAX_COOKIE_SIZE};
use session::{ConfigError, Error, SameSite, SessionCookie};

use crate::common::{SECRET, capture};

fn builder() -> session::cookie::SessionCookieBuilder {
    SessionCookie::builder("my-cookie").secret(SECRET)
}

/// The request `Cookie` header a browser sends back for a `Set-Cookie`.
fn sent_back(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn round_trip(cookie: &SessionCookie, value: &str) -> Incoming {
    let set = cookie.to_set_cookie(value, None).unwrap();
    cookie.read(Some(&sent_back(&set)))
}

fn verified(value: &str) -> Incoming {
    Incoming::Verified {
        value: value.to_owned(),
        stale_secret: false,
    }
}

#[test]
fn defaults_to_http_only_secure_lax_and_root_path() {
    // J1. Remix leaves HttpOnly and Secure off by default; here they are on.
    let cookie = builder().build().unwrap();
    let set = cookie.to_set_cookie("v", None).unwrap();
    let attributes: Vec<&str> = set.split("; ").skip(1).collect();
    assert_eq!(attributes, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]);
    assert!(!set.contains("Domain"));
}

#[test]
fn preserves_explicit_http_only_values() {
    assert!(builder().http_only(true).build().unwrap().http_only());
    assert!(!builder().http_only(false).build().unwrap().http_only());
}

#[test]
fn warns_when_http_only_is_disabled() {
    let (_, events) = capture(|| builder().http_only(false).build().unwrap());
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e.level == tracing::Level::WARN && e.fields.contains("HttpOnly"))
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    let (_, quiet) = capture(|| builder().build().unwrap());
    assert!(quiet.is_empty());
}

#[test]
fn defaults_secure_to_true_when_partitioned_or_same_site_none() {
    // J2: forced even when explicitly turned off.
    let partitioned = builder().secure(false).partitioned(true).build().unwrap();
    assert!(partitioned.secure());
    let none = builder()
        .secure(false)
        .same_site(SameSite::None)
        .build()
        .unwrap();
    assert!(
        none.to_set_cookie("v", None)
            .unwrap()
            .ends_with("SameSite=None; Secure")
    );
}

#[test]
fn parses_and_serializes_empty_values() {
    let cookie = builder().build().unwrap();
    let cleared = cookie.to_clear_cookie();
    assert_eq!(cookie.read(Some(&sent_back(&cleared))), Incoming::Empty);
    assert_eq!(round_trip(&cookie, ""), verified(""));
}

#[test]
fn parses_and_serializes_signed_string_values() {
    let cookie = builder().build().unwrap();
    assert_eq!(
        round_trip(&cookie, "hello michael"),
        verified("hello michael")
    );
}

#[test]
fn unsigns_values_that_contain_periods() {
    let cookie = builder().build().unwrap();
    assert_eq!(
        round_trip(&cookie, "hello.michael.v1."),
        verified("hello.michael.v1.")
    );
}

#[test]
fn parses_and_serializes_utf8_values() {
    let cookie = builder().build().unwrap();
    assert_eq!(round_trip(&cookie, "日本語 ✓ 🎉"), verified("日本語 ✓ 🎉"));
}

#[test]
fn fails_to_parse_values_signed_with_another_secret() {
    let one = builder().build().unwrap();
    let other = SessionCookie::builder("my-cookie")
        .secret("another-secret-that-is-32-bytes-long")
        .build()
        .unwrap();
    let set = one.to_set_cookie("hello", None).unwrap();
    assert_eq!(other.read(Some(&sent_back(&set))), Incoming::Rejected);
}

#[test]
fn fails_to_parse_values_with_an_invalid_signature_encoding() {
    let cookie = builder().build().unwrap();
    let set = cookie.to_set_cookie("hello", None).unwrap();
    let broken = format!("{}%^&", sent_back(&set));
    assert_eq!(cookie.read(Some(&broken)), Incoming::Rejected);
}

#[test]
fn parses_and_serializes_signed_object_values() {
    let cookie = builder().build().unwrap();
    let json = r#"{"hello":"mjackson","n":[1,2]}"#;
    let Incoming::Verified { value, .. } = round_trip(&cookie, json) else {
        panic!("not verified")
    };
    let parsed: serde_json::Value = serde_json::from_str(&value).unwrap();
    assert_eq!(parsed["hello"], "mjackson");
}

#[test]
fn supports_secret_rotation() {
    // C1, C3: sign with the newest only, verify with all in order.
    let old = SessionCookie::builder("my-cookie")
        .secret("secret1-secret1-secret1-secret1-!")
        .build()
        .unwrap();
    let rotated = SessionCookie::builder("my-cookie")
        .secrets([
            "secret2-secret2-secret2-secret2-!",
            "secret1-secret1-secret1-secret1-!",
        ])
        .build()
        .unwrap();
    let old_set = old.to_set_cookie("hello", None).unwrap();
    assert_eq!(
        rotated.read(Some(&sent_back(&old_set))),
        Incoming::Verified {
            value: "hello".into(),
            stale_secret: true
        }
    );
    let new_set = rotated.to_set_cookie("hello", None).unwrap();
    assert_ne!(new_set, old_set);
    assert_eq!(rotated.read(Some(&sent_back(&new_set))), verified("hello"));
    // C3: a newly emitted cookie verifies with the current secret alone.
    let newest_only = SessionCookie::builder("my-cookie")
        .secret("secret2-secret2-secret2-secret2-!")
        .build()
        .unwrap();
    assert_eq!(
        newest_only.read(Some(&sent_back(&new_set))),
        verified("hello")
    );
    // C2: once the old secret is removed, its cookies are refused; restoring it revives them.
    assert_eq!(
        newest_only.read(Some(&sent_back(&old_set))),
        Incoming::Rejected
    );
    assert!(matches!(
        rotated.read(Some(&sent_back(&old_set))),
        Incoming::Verified { .. }
    ));
}

#[test]
fn must_be_signed() {
    // Remix's "is not signed by default" and the middleware's "throws if the session cookie is
    // not signed": an unsigned session cookie cannot be built at all (C5).
    let err = SessionCookie::builder("my-cookie")
        .build()
        .map_err(config)
        .unwrap_err();
    assert_eq!(err, ConfigError::NoSecret);
    assert_eq!(
        SessionCookie::builder("c")
            .secrets(Vec::<String>::new())
            .build()
            .map_err(config)
            .unwrap_err(),
        ConfigError::NoSecret
    );
}

#[test]
fn refuses_empty_and_short_secrets_unless_allowed() {
    // C5
    assert_eq!(
        SessionCookie::builder("c")
            .secret("")
            .allow_short_secrets()
            .build()
            .map_err(config)
            .unwrap_err(),
        ConfigError::EmptySecret { index: 0 }
    );
    assert_eq!(
        SessionCookie::builder("c")
            .secret("s3cr3t")
            .build()
            .map_err(config)
            .unwrap_err(),
        ConfigError::ShortSecret { index: 0, len: 6 }
    );
    assert_eq!(
        SessionCookie::builder("c")
            .secrets([SECRET, "short"])
            .build()
            .map_err(config)
            .unwrap_err(),
        ConfigError::ShortSecret { index: 1, len: 5 }
    );
    assert!(
        SessionCookie::builder("c")
            .secret("s3cr3t")
            .allow_short_secrets()
            .build()
            .is_ok()
    );
}

#[test]
fn debug_and_errors_never_show_secrets() {
    // C5
    let cookie = builder().build().unwrap();
    assert!(!format!("{cookie:?}").contains(SECRET));
    assert!(!format!("{:?}", builder()).contains(SECRET));
    let err = SessionCookie::builder("c")
        .secret("shortsecret")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("shortsecret"));
}

#[test]
fn supports_overriding_cookie_properties() {
    let cookie = builder()
        .domain("remix.run")
        .path("/about")
        .max_age(Duration::from_hours(1))
        .same_site(SameSite::None)
        .build()
        .unwrap();
    let set = cookie.to_set_cookie("hello", None).unwrap();
    for attribute in [
        "Domain=remix.run",
        "Path=/about",
        "Max-Age=3600",
        "SameSite=None",
        "Secure",
        "HttpOnly",
    ] {
        assert!(set.contains(attribute), "{attribute} missing from {set}");
    }
    // Remix's serialize-time override: here for Max-Age, which the expiry policy drives.
    assert!(
        cookie
            .to_set_cookie("hello", Some(60))
            .unwrap()
            .contains("Max-Age=60;")
    );
}

#[test]
#[expect(
    clippy::duration_suboptimal_units,
    reason = "the Unix time of the Remix test's date"
)]
fn writes_attributes_in_remix_order() {
    let cookie = builder()
        .domain("example.com")
        .expires(std::time::UNIX_EPOCH + Duration::from_secs(1_445_498_880))
        .max_age(Duration::from_secs(0))
        .partitioned(true)
        .same_site(SameSite::Strict)
        .build()
        .unwrap();
    let set = cookie.to_set_cookie("v", None).unwrap();
    let attributes: Vec<&str> = set.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        [
            "Domain=example.com",
            "Expires=Thu, 22 Oct 2015 07:28:00 GMT",
            "HttpOnly",
            "Max-Age=0",
            "Partitioned",
            "Path=/",
            "SameSite=Strict",
            "Secure"
        ]
    );
}

#[test]
fn parses_a_missing_header_or_cookie_as_absent() {
    let cookie = builder().build().unwrap();
    assert_eq!(cookie.read(None), Incoming::Absent);
    assert_eq!(cookie.read(Some("")), Incoming::Absent);
    assert_eq!(cookie.read(Some("other-cookie=hello")), Incoming::Absent);
}

#[test]
fn clearing_keeps_path_domain_same_site_and_secure_and_expires_now() {
    // F1
    let cookie = builder()
        .domain("example.com")
        .path("/app")
        .same_site(SameSite::Strict)
        .build()
        .unwrap();
    assert_eq!(
        cookie.to_clear_cookie(),
        "my-cookie=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; \
         Max-Age=0; Path=/app; SameSite=Strict; Secure"
    );
}

#[test]
fn host_prefix_rules_are_enforced() {
    // J2
    let host = || SessionCookie::builder("__Host-s").secret(SECRET);
    assert!(host().build().is_ok());
    for broken in [
        host().domain("example.com"),
        host().path("/app"),
        host().secure(false),
    ] {
        assert!(matches!(
            broken.build(),
            Err(Error::Config(ConfigError::PrefixRule { .. }))
        ));
    }
    let secure = || SessionCookie::builder("__Secure-s").secret(SECRET);
    assert!(secure().build().is_ok());
    assert!(matches!(
        secure().secure(false).build(),
        Err(Error::Config(ConfigError::PrefixRule { .. }))
    ));
}

#[test]
fn names_paths_and_domains_with_forbidden_characters_are_refused() {
    // J3 (CVE-2024-47764)
    for name in [
        "",
        "a;b",
        "a=b",
        "a b",
        "a\tb",
        "a\r\nb",
        "a,b",
        "a\"b",
        "é",
        "x=1; Max-Age=0; a",
    ] {
        assert!(
            matches!(
                SessionCookie::builder(name).secret(SECRET).build(),
                Err(Error::Config(ConfigError::InvalidName { .. }))
            ),
            "{name:?}"
        );
    }
    for value in ["/a;b", "/a b", "/a\nb", "/a=b", "/é", "/a\u{7f}"] {
        assert!(matches!(
            builder().path(value).build(),
            Err(Error::Config(ConfigError::InvalidAttribute {
                attribute: "Path",
                ..
            }))
        ));
        assert!(matches!(
            builder().domain(value).build(),
            Err(Error::Config(ConfigError::InvalidAttribute {
                attribute: "Domain",
                ..
            }))
        ));
    }
}

#[test]
fn encoded_values_never_hold_separators() {
    // J3: base64 plus `.` never needs quoting.
    let cookie = builder().build().unwrap();
    let set = cookie.to_set_cookie("a;b c,\"d\\e\u{0}é", None).unwrap();
    let value = sent_back(&set).split_once('=').unwrap().1.to_owned();
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=.".contains(&b))
    );
}

#[test]
fn a_cookie_of_exactly_the_limit_is_sent_and_one_byte_more_is_an_error() {
    // K1: `name=value` of 4096 bytes passes, 4097 is a typed error.
    let cookie = SessionCookie::builder("s").secret(SECRET).build().unwrap();
    // "s=" + base64(n bytes) + "." + 43: base64 of 3k bytes is 4k characters.
    let fits = 3 * ((MAX_COOKIE_SIZE - 2 - 44) / 4);
    let set = cookie.to_set_cookie(&"x".repeat(fits), None).unwrap();
    let pair_len = sent_back(&set).len();
    assert_eq!(
        pair_len,
        MAX_COOKIE_SIZE - 2,
        "base64 grows in steps of four"
    );
    let exact = cookie.to_set_cookie(&format!("{}y", "x".repeat(fits)), None);
    assert!(matches!(
        exact,
        Err(Error::CookieTooLarge {
            size: 4098,
            limit: 4096
        })
    ));
    // A name two bytes longer makes the first value exactly 4096.
    let longer = SessionCookie::builder("sss")
        .secret(SECRET)
        .build()
        .unwrap();
    let set = longer.to_set_cookie(&"x".repeat(fits), None).unwrap();
    assert_eq!(sent_back(&set).len(), MAX_COOKIE_SIZE);
    let over = SessionCookie::builder("ssss")
        .secret(SECRET)
        .build()
        .unwrap();
    assert!(matches!(
        over.to_set_cookie(&"x".repeat(fits), None),
        Err(Error::CookieTooLarge {
            size: 4097,
            limit: 4096
        })
    ));
}

#[test]
fn an_oversized_inbound_cookie_is_refused_before_verification() {
    // K2: the reason logged shows no MAC was computed.
    let cookie = builder().build().unwrap();
    let huge = format!("my-cookie={}", "A".repeat(MAX_COOKIE_SIZE + 1));
    let (incoming, events) = capture(|| cookie.read(Some(&huge)));
    assert_eq!(incoming, Incoming::Rejected);
    assert_eq!(events.len(), 1);
    assert!(events[0].fields.contains("oversized-cookie"), "{events:?}");
    let (_, events) = capture(|| cookie.read(Some("my-cookie=AAAA.AAAA")));
    assert!(events[0].fields.contains("bad-signature"));
}

/// The configuration mistake inside a builder's error.
fn config(error: Error) -> ConfigError {
    match error {
        Error::Config(mistake) => mistake,
        other => panic!("not a configuration error: {other:?}"),
    }
}

#[test]
fn an_expires_date_an_http_date_cannot_say_is_refused_at_build() {
    // Review defect 10: it passed `build()` and then panicked on every commit.
    use std::time::{Duration, UNIX_EPOCH};
    let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
    let year_10000 = UNIX_EPOCH + Duration::from_hours(70_389_528);
    for when in [before_1970, year_10000] {
        let err = builder().expires(when).build().map_err(config).unwrap_err();
        assert_eq!(err, ConfigError::InvalidExpires);
    }
    let last_second = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    let cookie = builder().expires(last_second).build().unwrap();
    let set_cookie = cookie.to_set_cookie("v", None).unwrap();
    assert!(
        set_cookie.contains("Expires=Fri, 31 Dec 9999 23:59:59 GMT"),
        "{set_cookie}"
    );
    let epoch = builder().expires(UNIX_EPOCH).build().unwrap();
    assert!(
        epoch
            .to_set_cookie("v", None)
            .unwrap()
            .contains("Expires=Thu, 01 Jan 1970")
    );
}
