//! Generated code is a guest in the user's crate: it compiles with warnings and missing docs
//! denied, beside user types named like std's, and inside `#![no_implicit_prelude]`.
#![deny(warnings, missing_docs, unused_qualifications)]

/// Public schemas, so that `missing_docs` checks the generated public items.
pub mod public {
    use session::SessionSchema;

    /// A schema whose view and accessors are public.
    #[derive(Debug, SessionSchema)]
    pub struct Visible {
        /// A value.
        pub value: Option<u32>,
        /// A flash.
        #[session(flash)]
        pub message: Option<String>,
        /// A default.
        #[session(default)]
        pub count: u64,
    }
}

/// User types named like the ones generated code could reach for.
pub mod shadowing {
    #![allow(dead_code, reason = "the shadows only need to exist")]

    use session::SessionSchema;

    /// Not std's.
    #[derive(Debug)]
    pub struct Option;
    /// Not std's.
    pub type Result = ();
    /// Not the crate's.
    #[derive(Debug)]
    pub struct Session;
    /// Not std's.
    #[derive(Debug)]
    pub struct Default;
    /// Not std's.
    #[derive(Debug)]
    pub struct PhantomData;

    /// A schema next to them.
    #[derive(Debug, SessionSchema)]
    pub struct Shadowed {
        /// A value, with std's Option spelled in full.
        pub value: ::core::option::Option<u32>,
        /// A default.
        #[session(default)]
        pub count: u64,
    }
}

/// No prelude at all.
pub mod no_prelude {
    #![no_implicit_prelude]

    /// A schema in a module without the prelude.
    #[derive(::core::fmt::Debug, ::session::SessionSchema)]
    pub struct Bare {
        /// A value.
        pub value: ::core::option::Option<u32>,
        /// A flash with a default.
        #[session(flash, default)]
        pub errors: ::std::vec::Vec<::std::string::String>,
    }
}

/// The crate renamed, as with `renamed = { package = "session-kit" }`.
pub mod renamed_crate {
    extern crate session as renamed;

    /// A schema that reaches the crate through `crate = "..."`.
    #[derive(Debug, renamed::SessionSchema)]
    #[session(crate = "renamed")]
    pub struct Renamed {
        /// A value.
        pub value: Option<u32>,
    }
}

#[test]
fn hygienic_schemas_work() {
    use session::{Session, SessionSchema};

    let mut session = Session::new();
    public::Visible::view(&mut session).set_value(1).unwrap();
    shadowing::Shadowed::view(&mut session)
        .set_count(2)
        .unwrap();
    no_prelude::Bare::view(&mut session).set_value(3).unwrap();
    renamed_crate::Renamed::view(&mut session)
        .set_value(4)
        .unwrap();
    assert_eq!(session.get::<u32>("value").unwrap(), Some(4));
    assert_eq!(shadowing::Shadowed::view(&session).count(), 2);
}
