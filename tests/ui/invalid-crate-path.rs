use session::SessionSchema;

#[derive(SessionSchema)]
#[session(crate = "not a path")]
struct Account {
    user_id: Option<u64>,
}

fn main() {}
