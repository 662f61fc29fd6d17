//! Compile-fail tests: every diagnostic of `#[derive(SessionSchema)]`, one mistake per file
//! (and one file with several), against snapshots in `ui/*.stderr`.
//!
//! Snapshots depend on the compiler's wording, so they are blessed on one compiler, named here
//! once (BLESSED). On any other compiler the snapshot test is skipped and the guard below fails
//! loudly, so that the suite never goes quiet.

// BLESSED: stable 1.95
#[rustversion::attr(not(stable(1.95)), ignore = "UI snapshots are blessed on stable 1.95")]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}

#[rustversion::not(stable(1.95))]
#[test]
fn ui_snapshots_are_blessed_on_this_compiler() {
    panic!(
        "UI snapshots are blessed on 1.95: re-bless with \
         `TRYBUILD=overwrite cargo test -p session-tests --test ui` and review the .stderr diff"
    );
}
