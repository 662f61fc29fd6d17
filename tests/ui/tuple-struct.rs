use session::SessionSchema;

#[derive(SessionSchema)]
struct Account(Option<u64>);

fn main() {}
