use session::SessionSchema;

#[derive(SessionSchema)]
struct Account;

fn main() {}
