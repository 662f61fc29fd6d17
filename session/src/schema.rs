//! [`SessionSchema`]: a struct whose fields name the values of a session, with typed
//! accessors made by `#[derive(SessionSchema)]`. Its docs are the attribute reference.

use crate::data::Session;
use crate::error::Result;

/// A struct whose fields are the values of a session: derive it, and handlers read and write
/// typed fields instead of string keys.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session::{Session, SessionSchema};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// enum Theme { Light, Dark }
///
/// #[derive(SessionSchema)]
/// struct Account {
///     user_id: Option<u64>,
///     #[session(default)]
///     visits: u32,
///     #[session(flash)]
///     notice: Option<String>,
///     #[session(rename = "theme")]
///     color_theme: Option<Theme>,
/// }
///
/// let mut session = Session::new();
/// let mut account = Account::view(&mut session);
/// account.set_user_id(7)?;
/// account.set_visits(account.visits() + 1)?;
/// account.flash_notice("Welcome back".to_owned())?; // for the next request
/// account.set_color_theme(Theme::Dark)?;
/// assert_eq!(account.user_id()?, Some(7));
/// assert_eq!(account.notice()?, None); // flash is readable on the next request only
///
/// // The fields are plain JSON keys: a Remix app reads the same session.
/// assert_eq!(session.get::<String>("theme")?.as_deref(), Some("Dark"));
/// assert_eq!(Account::KEYS, ["user_id", "visits", "notice", "theme"]);
/// assert_eq!(Account::COLOR_THEME_KEY, "theme");
/// # Ok::<(), session::Error>(())
/// ```
///
/// # The view, and why
///
/// `T::view(session)` wraps a `&Session` (getters only) or a `&mut Session` (getters and
/// setters) in a typed view named `<T>View`. A handler names its session once and then writes
/// `account.visits()`, `account.set_visits(n)`: the shortest correct code, checked by the
/// compiler, with no string key in sight. The view borrows the session, so it costs nothing
/// and cannot outlive the request. The accessors call only [`Session`]'s public API, so they
/// work with every storage.
///
/// # Accessors
///
/// For a field `name` stored under `key`:
///
/// | field | getter | writers |
/// | --- | --- | --- |
/// | `name: Option<T>` or `name: T` | `name() -> Result<Option<T>>` | `set_name(T)`, `remove_name()` |
/// | `#[session(default)] name: T` | `name() -> T` | `set_name(T)`, `remove_name()` |
/// | `#[session(flash)] name: Option<T>` | `name() -> Result<Option<T>>`: the flash that arrived | `flash_name(T)`: for the next request |
/// | `#[session(flash, default)] name: T` | `name() -> T` | `flash_name(T)` |
/// | `#[session(skip)] name: T` | none | none |
/// | `#[session(lifetime)] name: Lifetime` | `name() -> Lifetime`: how long the browser keeps the cookie | `set_name(Lifetime)`: a write when it changes |
///
/// A stored value that does not fit the field's type (written by an older deploy, by a Remix
/// app, or by hand) never panics: a getter returns [`Error::Deserialize`](crate::Error)
/// naming the key, or, for a field with a default, the default. Every setter returns
/// [`Error::Destroyed`](crate::Error) after [`Session::destroy`].
///
/// Besides the accessors, `T::KEYS` lists the keys, `T::<NAME>_KEY` holds each one, and
/// [`load`](Self::load) and [`store`](Self::store) move the whole struct at once.
///
/// `Option<T>` is recognized by its spelling (`Option`, `std::option::Option`,
/// `core::option::Option`); a type alias of it is treated as a plain type.
///
/// # Field attributes
///
/// | attribute | effect |
/// | --- | --- |
/// | `#[session(rename = "key")]` | stores the field under `key` |
/// | `#[session(default)]` | a missing or unfitting value reads as `Default::default()` |
/// | `#[session(default = "path::to::fn")]` | ... or as `fn()`'s result |
/// | `#[session(flash)]` | the field is flash data: set for the next request, read once |
/// | `#[session(skip)]` | not a session value: no accessors; [`load`](Self::load) fills it with `Default::default()` |
/// | `#[session(lifetime)]` | the field (of type `session::expiry::Lifetime`) is the session's cookie lifetime, not a key: its getter and setter call `Session::lifetime` and `Session::set_lifetime` |
///
/// ```
/// use session::{Session, SessionSchema};
///
/// fn fifty() -> u32 { 50 }
///
/// #[derive(SessionSchema)]
/// struct Prefs {
///     #[session(rename = "lang")]
///     language: Option<String>,
///     #[session(default = "fifty")]
///     page_size: u32,
///     #[session(flash, default)]
///     errors: Vec<String>,
///     #[session(skip)]
///     computed: bool,
/// }
///
/// let mut session = Session::new();
/// session.set("page_size", "not a number")?; // written by something else
/// let mut prefs = Prefs::view(&mut session);
/// assert_eq!(prefs.page_size(), 50);
/// prefs.set_language("en".to_owned())?;
/// assert_eq!(prefs.errors(), Vec::<String>::new());
/// assert_eq!(session.get::<String>("lang")?.as_deref(), Some("en"));
/// assert!(!Prefs::load(&session)?.computed);
/// # Ok::<(), session::Error>(())
/// ```
///
/// # Container attributes
///
/// | attribute | effect |
/// | --- | --- |
/// | `#[session(rename_all = "...")]` | keys in `camelCase`, `PascalCase`, `snake_case`, `kebab-case`, `SCREAMING_SNAKE_CASE`, `SCREAMING-KEBAB-CASE`, `lowercase` or `UPPERCASE` (a field's `rename` wins) |
/// | `#[session(prefix = "app.")]` | prepends the prefix to every key, after renaming |
/// | `#[session(crate = "path")]` | the path to this crate, when it is renamed in `Cargo.toml` |
///
/// ```
/// use session::{Session, SessionSchema};
///
/// #[derive(SessionSchema)]
/// #[session(rename_all = "camelCase", prefix = "cart.")]
/// struct Cart {
///     item_count: Option<u32>,
///     #[session(rename = "total")]
///     total_cents: Option<u64>,
/// }
///
/// assert_eq!(Cart::KEYS, ["cart.itemCount", "cart.total"]);
/// ```
///
/// ```
/// // With `renamed = { package = "session-kit", ... }` in Cargo.toml:
/// # extern crate session as renamed;
/// #[derive(renamed::SessionSchema)]
/// #[session(crate = "renamed")]
/// struct Visit {
///     count: Option<u32>,
/// }
/// # use renamed::SessionSchema as _;
/// # assert_eq!(Visit::KEYS, ["count"]);
/// ```
///
/// # Compile-time checks
///
/// Every mistake of one input is reported in one compile, at the narrowest token: unknown
/// attributes (with a suggestion), duplicate attributes, two fields on one key, generated
/// accessors that collide (a field `set_name` beside a field `name`), `skip` with `flash`,
/// `rename` or `default`, `lifetime` with any other field attribute, twice, or on a type other
/// than `Lifetime`, enums, unions, tuple and unit structs, and field types that are not
/// `Serialize + DeserializeOwned` (the error underlines the type).
pub trait SessionSchema: Sized {
    /// Every session key of the schema, in field order (skipped fields excluded).
    const KEYS: &'static [&'static str];

    /// The typed view over a session: getters when `S` is `&Session`, getters and setters when
    /// `S` is `&mut Session`.
    type View<S>;

    /// Wraps a session in the typed view.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Session, SessionSchema};
    ///
    /// #[derive(SessionSchema)]
    /// struct Counter {
    ///     #[session(default)]
    ///     hits: u64,
    /// }
    ///
    /// let mut session = Session::new();
    /// Counter::view(&mut session).set_hits(3)?;
    /// assert_eq!(Counter::view(&session).hits(), 3);
    /// # Ok::<(), session::Error>(())
    /// ```
    fn view<S>(session: S) -> Self::View<S>;

    /// Reads every field at once.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialize`](crate::Error::Deserialize) for a value that does not fit a field
    /// without a default; [`Error::MissingValue`](crate::Error::MissingValue) for a missing
    /// value of a field that is neither an `Option` nor has a default.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Session, SessionSchema};
    ///
    /// #[derive(SessionSchema)]
    /// struct User {
    ///     id: u64,
    ///     name: Option<String>,
    /// }
    ///
    /// let mut session = Session::new();
    /// assert!(User::load(&session).is_err()); // `id` is required
    /// session.set("id", 7)?;
    /// let user = User::load(&session)?;
    /// assert_eq!((user.id, user.name), (7, None));
    /// # Ok::<(), session::Error>(())
    /// ```
    fn load(session: &Session) -> Result<Self>;

    /// Writes every field at once: a `None` removes its key, and a flash field is flashed for
    /// the next request when it holds a value.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after the session was destroyed;
    /// [`Error::Serialize`](crate::Error::Serialize) for a value that cannot become JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Session, SessionSchema};
    ///
    /// #[derive(SessionSchema)]
    /// struct User {
    ///     id: u64,
    ///     name: Option<String>,
    /// }
    ///
    /// let mut session = Session::new();
    /// User { id: 7, name: Some("Ada".into()) }.store(&mut session)?;
    /// assert_eq!(session.get::<String>("name")?.as_deref(), Some("Ada"));
    /// # Ok::<(), session::Error>(())
    /// ```
    fn store(&self, session: &mut Session) -> Result<()>;
}

#[cfg(all(test, feature = "derive"))]
mod tests {
    use crate::{Session, SessionSchema};

    #[derive(SessionSchema)]
    struct Inside {
        n: Option<u8>,
    }

    #[test]
    fn the_derive_works_inside_this_crate() {
        let mut session = Session::new();
        Inside::view(&mut session).set_n(4).unwrap();
        assert_eq!(Inside::load(&session).unwrap().n, Some(4));
    }
}
