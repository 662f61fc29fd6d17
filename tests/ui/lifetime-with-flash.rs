use session::SessionSchema;
use session::expiry::Lifetime;

#[derive(SessionSchema)]
struct Login {
    #[session(lifetime, flash)]
    remember: Lifetime,
}

fn main() {}
