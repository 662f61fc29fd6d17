use session::SessionSchema;
use session::expiry::Lifetime;

#[derive(SessionSchema)]
struct Login {
    #[session(lifetime)]
    remember: Lifetime,
    #[session(lifetime)]
    again: Lifetime,
}

fn main() {}
